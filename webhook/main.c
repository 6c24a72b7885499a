/*
 * vecward-webhook: the admission webhook (validate and mutate Cluster, User and
 * EncryptionKey). The HTTPS server and the rules are being built under issue 4;
 * until then this binary only reports its version and refuses to run, so that
 * nobody mistakes it for a working gate.
 */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--version") == 0) {
			printf("vecward-webhook %s\n", VECWARD_VERSION);
			return 0;
		}
		if (strcmp(argv[i], "--help") == 0) {
			printf("usage: vecward-webhook --listen 127.0.0.1:9443 --tls-cert FILE "
			       "--tls-key FILE [--kubeconfig PATH]\n");
			return 0;
		}
	}
	fprintf(stderr, "vecward-webhook: the admission server is not implemented yet "
			"(issue 4); refusing to start\n");
	return 2;
}
