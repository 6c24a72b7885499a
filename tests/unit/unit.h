/*
 * unit: what every cmocka test file here includes. Tests run from the
 * repository root (tests/unit/run.sh makes sure), so fixtures are found
 * at UNIT_FIXTURES.
 */
#ifndef VW_UNIT_H
#define VW_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define UNIT_FIXTURES "tests/unit/fixtures"

#endif
