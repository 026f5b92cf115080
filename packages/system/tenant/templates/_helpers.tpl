{{- define "tenant.name" -}}
{{ required "tenant is required" .Values.tenant }}
{{- end -}}
{{- define "tenant.labels" -}}
app.kubernetes.io/name: tenant
app.kubernetes.io/instance: {{ .Release.Name }}
platform.distgen.io/tenant: {{ include "tenant.name" . }}
{{- end -}}
