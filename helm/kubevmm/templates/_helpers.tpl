{{/* The release's full name: the release name when it already says kubevmm. */}}
{{- define "kubevmm.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "kubevmm.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kubevmm.labels" -}}
{{ include "kubevmm.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Labels of the operator's pods (the device plugin's differ by component). */}}
{{- define "kubevmm.operatorSelectorLabels" -}}
{{ include "kubevmm.selectorLabels" . }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "kubevmm.serviceAccountName" -}}
{{- default (include "kubevmm.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "kubevmm.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "kubevmm.launcherImage" -}}
{{- default (printf "ghcr.io/kubevmm/launcher:%s" .Chart.AppVersion) .Values.launcherImage -}}
{{- end -}}

{{- define "kubevmm.webhookService" -}}
{{- printf "%s-webhook" (include "kubevmm.fullname" .) -}}
{{- end -}}

{{- define "kubevmm.webhookSecret" -}}
{{- printf "%s-webhook-tls" (include "kubevmm.fullname" .) -}}
{{- end -}}

{{- define "kubevmm.launcherCaSecret" -}}
{{- printf "%s-launcher-ca" (include "kubevmm.fullname" .) -}}
{{- end -}}
