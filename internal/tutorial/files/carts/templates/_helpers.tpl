{{/* The labels the Service selects the Deployment's Pods by. */}}
{{- define "carts.selector" -}}
app.kubernetes.io/name: {{ .Values.keptn.service }}
app.kubernetes.io/instance: {{ printf "%s-%s" .Values.keptn.service .Values.keptn.deployment }}
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
