{{/*
The labels the Service selects the Deployment's Pods by. They hold the
service's name only: a blue/green deployer derives the primary's by
appending -primary (carts-primary), as Keptn's helm-service did.
*/}}
{{- define "carts.selector" -}}
app.kubernetes.io/name: {{ .Values.keptn.service }}
app.kubernetes.io/instance: {{ .Values.keptn.service }}
{{- end }}

{{/* The labels every object of the chart carries, the selector's among them. */}}
{{- define "carts.labels" -}}
{{ include "carts.selector" . }}
app.kubernetes.io/part-of: {{ .Values.keptn.project }}
app.kubernetes.io/component: api
app.kubernetes.io/version: {{ .Values.image | splitList ":" | last | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
keptn.sh/stage: {{ .Values.keptn.stage }}
keptn.sh/deployment: {{ .Values.keptn.deployment }}
{{- end }}
