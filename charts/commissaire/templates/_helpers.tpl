{{/*
Names. With the release name "commissaire" every object is named exactly as in manifests/.
*/}}
{{- define "commissaire.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "commissaire.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "commissaire.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "commissaire.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Common labels; call with (dict "ctx" $ "component" "controller"). */}}
{{- define "commissaire.labels" -}}
app.kubernetes.io/name: {{ include "commissaire.name" .ctx }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/part-of: commissaire
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
helm.sh/chart: {{ include "commissaire.chart" .ctx }}
{{- end -}}

{{- define "commissaire.selectorLabels" -}}
app.kubernetes.io/name: {{ include "commissaire.name" .ctx }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- end -}}

{{- define "commissaire.controller.serviceAccount" -}}
{{- printf "%s-controller" (include "commissaire.fullname" .) -}}
{{- end -}}

{{- define "commissaire.shim.serviceAccount" -}}
{{- printf "%s-shim" (include "commissaire.fullname" .) -}}
{{- end -}}

{{/* The pod-level and container-level security settings shared by both Deployments. */}}
{{- define "commissaire.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "commissaire.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop:
    - ALL
{{- end -}}

{{/* nodeSelector, tolerations, affinity and imagePullSecrets for a pod spec. */}}
{{- define "commissaire.scheduling" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
