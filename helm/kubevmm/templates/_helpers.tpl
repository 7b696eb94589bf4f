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

{{/* The subresource server (ADR 0011): its objects' name, labels and Secrets. */}}
{{- define "kubevmm.subresourcesName" -}}
{{- printf "%s-subresources" (include "kubevmm.fullname" .) -}}
{{- end -}}

{{- define "kubevmm.subresourcesSelectorLabels" -}}
{{ include "kubevmm.selectorLabels" . }}
app.kubernetes.io/component: subresources
{{- end -}}

{{- define "kubevmm.subresourcesServiceAccountName" -}}
{{- default (include "kubevmm.subresourcesName" .) .Values.subresources.serviceAccount.name -}}
{{- end -}}

{{/* Written by the operator: the serving certificate and its CA (the APIService's caBundle). */}}
{{- define "kubevmm.subresourcesServingSecret" -}}
{{- printf "%s-serving" (include "kubevmm.subresourcesName" .) -}}
{{- end -}}

{{/* Written by the operator: the server's launcher client certificate and the launcher CA. */}}
{{- define "kubevmm.subresourcesClientSecret" -}}
{{- printf "%s-client" (include "kubevmm.subresourcesName" .) -}}
{{- end -}}

{{- define "kubevmm.uiName" -}}
{{- printf "%s-ui" (include "kubevmm.fullname" .) -}}
{{- end -}}

{{- define "kubevmm.uiSelectorLabels" -}}
{{ include "kubevmm.selectorLabels" . }}
app.kubernetes.io/component: ui
{{- end -}}

{{- define "kubevmm.uiServiceAccountName" -}}
{{- default (include "kubevmm.uiName" .) .Values.ui.serviceAccount.name -}}
{{- end -}}

{{/* Written by the operator: the web console's serving certificate and its CA. */}}
{{- define "kubevmm.uiServingSecret" -}}
{{- printf "%s-serving" (include "kubevmm.uiName" .) -}}
{{- end -}}

{{/* The APIService's name is its version and group; one installation per cluster can own it. */}}
{{- define "kubevmm.subresourcesApiService" -}}
v1alpha1.subresources.kubevmm.io
{{- end -}}

{{/* Rules of the VM user roles (user-roles.yaml): reading VMs and classes; using VMs. */}}
{{- define "kubevmm.vmReadRules" }}
  - apiGroups: [kubevmm.io]
    resources: [virtualmachines, virtualmachineclasses, virtualmachineimages]
    verbs: [get, list, watch]
  - apiGroups: [kubevmm.io]
    resources: [virtualmachines/status, virtualmachineimages/status]
    verbs: [get]
{{- end }}
{{- define "kubevmm.vmUseRules" }}
  # Create, change (start, stop, pause, hotplug are spec edits) and delete VMs. Classes are the
  # platform team's policy: read only.
  # Images too: importing one is creating it; uploading is `get` (HEAD: how much arrived) and
  # `update` (PUT: the bytes) on virtualmachineimages/upload of subresources.kubevmm.io.
  - apiGroups: [kubevmm.io]
    resources: [virtualmachines, virtualmachineimages]
    verbs: [create, update, patch, delete, deletecollection]
  - apiGroups: [subresources.kubevmm.io]
    resources: [virtualmachines/console, virtualmachines/vnc, virtualmachines/portforward, virtualmachines/metrics]
    verbs: [get]
  - apiGroups: [subresources.kubevmm.io]
    resources: [virtualmachineimages/upload]
    verbs: [get, update]
{{- end }}

{{/*
Values a chart of this version always has. `helm upgrade --reuse-values` from a release older
than them renders with the old chart's values, which lack them: say so and how to upgrade,
instead of a nil pointer. Included by every template that reads them.
*/}}
{{- define "kubevmm.requireValues" -}}
{{- range $key := list "subresources" "userRoles" "ui" }}
{{- if not (hasKey $.Values $key) }}
{{- fail (printf "values have no %q: `helm upgrade --reuse-values` from an older release reuses that release's values, which predate it. Upgrade with --reset-then-reuse-values (Helm 3.14+: the new chart's defaults, then your own values), or pass -f with your values (docs/upgrades.md)" $key) }}
{{- end }}
{{- end }}
{{- end -}}
