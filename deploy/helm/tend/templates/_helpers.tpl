{{/* Names and labels. */}}

{{- define "tend.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tend.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Name of cluster-scoped objects: the release's namespace comes first, so
two releases of the same name in different namespaces do not clash. */}}
{{- define "tend.clusterName" -}}
{{- printf "%s-%s" .Release.Namespace (include "tend.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tend.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tend.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tend.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "tend.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tend
{{- end -}}

{{- define "tend.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tend.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false: name the ServiceAccount tend runs as" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "tend.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* The path of the data directory inside the container. */}}
{{- define "tend.dataDir" -}}/var/lib/tend{{- end -}}

{{/* tend.postgres is "true" when tend keeps its state in PostgreSQL. */}}
{{- define "tend.postgres" -}}
{{- if .Values.database.existingSecret -}}true{{- end -}}
{{- end -}}

{{/* tend.pvc is "true" when the chart creates the SQLite data claim. */}}
{{- define "tend.pvc" -}}
{{- if and (not .Values.database.existingSecret) .Values.persistence.enabled (not .Values.persistence.existingClaim) -}}true{{- end -}}
{{- end -}}

{{/* tend.config is tend.yaml as the ConfigMap holds it. */}}
{{- define "tend.config" -}}
{{- if .Values.config -}}
{{- toYaml .Values.config -}}
{{- else -}}
# tend.yaml: every setting at its default (docs/configuration.md)
{{- end -}}
{{- end -}}

{{/*
tend.validate fails the rendering on values that cannot work, saying what
to change. values.schema.json already checked the types.
*/}}
{{- define "tend.validate" -}}
{{- $replicas := int .Values.replicas -}}
{{- if and (gt $replicas 1) (not .Values.database.existingSecret) -}}
{{- fail (printf "replicas is %d, but tend runs more than one replica only on PostgreSQL: set database.existingSecret to a Secret holding the postgres:// URL (key database.secretKey), or set replicas to 1 for SQLite on a volume" $replicas) -}}
{{- end -}}
{{- if and .Values.database.existingSecret (not .Values.database.secretKey) -}}
{{- fail "database.secretKey is empty: name the key of the PostgreSQL URL in the Secret database.existingSecret" -}}
{{- end -}}
{{- range $key := list "listen" "dataDir" "database" -}}
{{- if hasKey $.Values.config $key -}}
{{- fail (printf "config.%s is set by the chart, not in tend.yaml: use %s" $key (get (dict "listen" "service.port" "dataDir" "persistence (SQLite) or nothing (PostgreSQL)" "database" "database.existingSecret and database.secretKey") $key)) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.rbac.create (not .Values.rbac.namespaces) .Values.rbac.createNamespaces -}}
{{- fail "rbac.createNamespaces needs rbac.namespaces: list the namespaces tend delivers to" -}}
{{- end -}}
{{- if and .Values.rbac.create (not .Values.rbac.namespaces) .Values.rbac.scalingOnlyNamespaces -}}
{{- fail "rbac.scalingOnlyNamespaces needs rbac.namespaces: without it tend's ClusterRole covers every namespace already" -}}
{{- end -}}
{{- end -}}

{{/*
tend.namespacedRules are the RBAC rules tend needs inside each namespace it
delivers to and scales in. docs/deploy.md says why each is there.
*/}}
{{- define "tend.namespacedRules" -}}
{{- if .Values.rbac.delivery.enabled }}
# Delivery: Helm keeps each release's record in Secrets of its namespace
# (get, list by labels, create, update, delete of old revisions), and
# services' charts may hold Secrets of their own.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch, create, update, patch, delete]
# Delivery: the objects of services' charts, created and updated with
# server-side apply, watched until ready, deleted when a chart drops them.
{{- range .Values.rbac.delivery.resources }}
- apiGroups: [{{ .apiGroup | quote }}]
  resources: [{{ join ", " .resources }}]
  verbs: [get, list, watch, create, update, patch, delete]
{{- end }}
# Delivery: rollout status and the reasons of a rollout that is not ready.
- apiGroups: [apps]
  resources: [replicasets]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
{{- with .Values.rbac.delivery.extraRules }}
{{ toYaml . }}
{{- end }}
{{- end }}
{{- if .Values.rbac.scaling.enabled }}
{{ include "tend.scalingRules" . }}
{{- end }}
{{- end -}}

{{/* tend.scalingRules are the calls of internal/action/kubernetes. */}}
{{- define "tend.scalingRules" -}}
# Scaling: read and write the Deployment's replicas through its scale
# subresource.
- apiGroups: [apps]
  resources: [deployments/scale]
  verbs: [get, update]
# Scaling: find the HPA that targets the Deployment (list), then raise its
# minReplicas (get, update).
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers]
  verbs: [get, list, update]
{{- end -}}
