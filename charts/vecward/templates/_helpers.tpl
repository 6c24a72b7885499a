{{/*
Names. fullname is the release name when it already says "vecward", else
<release>-vecward; every object is <fullname>-operator or <fullname>-webhook.
*/}}
{{- define "vecward.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "vecward.operator.name" -}}{{ include "vecward.fullname" . }}-operator{{- end -}}
{{- define "vecward.webhook.name" -}}{{ include "vecward.fullname" . }}-webhook{{- end -}}
{{/* Secret the webhook keeps its CA and serving certificate in (created by the webhook) */}}
{{- define "vecward.webhook.secret" -}}{{ include "vecward.fullname" . }}-webhook-tls{{- end -}}
{{/* Mutating/ValidatingWebhookConfiguration, both: --webhook-config of the webhook */}}
{{- define "vecward.webhook.config" -}}{{ include "vecward.fullname" . }}-webhook{{- end -}}
{{/* the operator's leader-election Lease (--lease-name) */}}
{{- define "vecward.operator.lease" -}}{{ include "vecward.fullname" . }}-operator{{- end -}}

{{- define "vecward.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/*
Labels. app.kubernetes.io/name is the component's program name: the Milvus
clusters' allow-operator NetworkPolicy admits pods labelled
app.kubernetes.io/name=vecward-operator from the operator's namespace.
*/}}
{{- define "vecward.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/part-of: vecward
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "vecward.operator.selector" -}}
app.kubernetes.io/name: vecward-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "vecward.webhook.selector" -}}
app.kubernetes.io/name: vecward-webhook
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "vecward.operator.labels" -}}
{{ include "vecward.labels" . }}
{{ include "vecward.operator.selector" . }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "vecward.webhook.labels" -}}
{{ include "vecward.labels" . }}
{{ include "vecward.webhook.selector" . }}
app.kubernetes.io/component: webhook
{{- end -}}

{{/* Pod Security "restricted": pod level */}}
{{- define "vecward.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Pod Security "restricted": container level */}}
{{- define "vecward.securityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
privileged: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* the namespaces the operator acts in, or nothing for all of them */}}
{{- define "vecward.watchNamespace" -}}
{{- if eq (len .Values.watchNamespaces) 1 -}}{{ index .Values.watchNamespaces 0 }}{{- end -}}
{{- end -}}

{{/* "true" when the webhook serves its lookups from watch caches (--lookup-cache): all
namespaces, or the one of watchNamespaces (--namespace) */}}
{{- define "vecward.webhook.lookupCache" -}}
{{- if and .Values.webhook.lookupCache (le (len .Values.watchNamespaces) 1) -}}true{{- else -}}false{{- end -}}
{{- end -}}

{{/* which namespaces the webhook answers for: all, or watchNamespaces */}}
{{- define "vecward.webhook.namespaceSelector" -}}
{{- if .Values.watchNamespaces }}
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: In
      values:
        {{- toYaml .Values.watchNamespaces | nindent 8 }}
{{- else }}
namespaceSelector: {}
{{- end }}
{{- end -}}

{{/* NetworkPolicy egress rule to the Kubernetes API server */}}
{{- define "vecward.np.apiServer" -}}
{{- $api := .Values.networkPolicy.apiServer -}}
# the Kubernetes API server
- ports:
    {{- range $api.ports }}
    - protocol: TCP
      port: {{ . }}
    {{- end }}
  {{- with $api.cidrs }}
  to:
    {{- range . }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
  {{- end }}
{{- end -}}
