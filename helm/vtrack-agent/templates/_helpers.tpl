{{/* The release's full name, as Kubernetes names allow it. */}}
{{- define "vtrack-agent.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "vtrack-agent.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "vtrack-agent.labels" -}}
{{ include "vtrack-agent.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "vtrack-agent.serviceAccountName" -}}
{{- default (include "vtrack-agent.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "vtrack-agent.tokenSecret" -}}
{{- default (printf "%s-token" (include "vtrack-agent.fullname" .)) .Values.apiToken.existingSecret -}}
{{- end -}}
