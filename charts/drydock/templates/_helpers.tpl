{{/* Names: <fullname>-admission, <fullname>-server, <fullname>-watch. */}}
{{- define "drydock.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "drydock.webhookName" -}}{{ include "drydock.fullname" . }}-admission{{- end -}}
{{- define "drydock.serverName" -}}{{ include "drydock.fullname" . }}-server{{- end -}}
{{- define "drydock.watchName" -}}{{ include "drydock.fullname" . }}-watch{{- end -}}
{{- define "drydock.configName" -}}{{ include "drydock.fullname" . }}-config{{- end -}}

{{- define "drydock.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/part-of: drydock
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* Selector labels of one component: include with (list $ "webhook"). */}}
{{- define "drydock.selector" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: drydock
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "drydock.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The mode, checked: enforce, warn or audit. */}}
{{- define "drydock.mode" -}}
{{- if not (has .Values.mode (list "enforce" "warn" "audit")) -}}
{{- fail (printf "mode %q: want enforce, warn or audit" .Values.mode) -}}
{{- end -}}
{{- .Values.mode -}}
{{- end -}}

{{/* Volumes and mounts every component shares: /tmp and registry credentials. */}}
{{- define "drydock.commonVolumes" -}}
- name: tmp
  emptyDir: {}
{{- if .Values.registries.dockerConfigSecret }}
- name: docker-config
  secret:
    secretName: {{ .Values.registries.dockerConfigSecret }}
    items:
      - key: .dockerconfigjson
        path: config.json
{{- end }}
{{- end -}}

{{- define "drydock.commonMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if .Values.registries.dockerConfigSecret }}
- name: docker-config
  mountPath: /etc/drydock/docker
  readOnly: true
{{- end }}
{{- end -}}

{{- define "drydock.commonEnv" -}}
- name: HOME
  value: /tmp
- name: DRYDOCK_CACHE_DIR
  value: /tmp/drydock-cache
- name: DOCKER_CONFIG
  value: {{ if .Values.registries.dockerConfigSecret }}/etc/drydock/docker{{ else }}/tmp/docker{{ end }}
{{- end -}}

{{/* Egress every component needs: DNS, and the apiserver and registries. */}}
{{- define "drydock.egress" -}}
- ports:
    - {port: 53, protocol: UDP}
    - {port: 53, protocol: TCP}
{{- if .Values.networkPolicy.egressPorts }}
- ports:
  {{- range .Values.networkPolicy.egressPorts }}
    - {port: {{ . }}, protocol: TCP}
  {{- end }}
{{- end }}
{{- end -}}

{{/* One webhook of either configuration: include with (list $ "/validate"). */}}
{{- define "drydock.webhookBody" -}}
{{- $root := index . 0 -}}
{{- $path := index . 1 -}}
{{- $name := include "drydock.webhookName" $root -}}
clientConfig:
  service:
    name: {{ $name }}
    namespace: {{ $root.Release.Namespace }}
    path: {{ $path }}
    port: 443
rules:
  - operations: [CREATE, UPDATE]
    apiGroups: [""]
    apiVersions: [v1]
    resources: [pods, pods/ephemeralcontainers, replicationcontrollers]
    scope: Namespaced
  - operations: [CREATE, UPDATE]
    apiGroups: [apps]
    apiVersions: [v1]
    resources: [deployments, statefulsets, daemonsets, replicasets]
    scope: Namespaced
  - operations: [CREATE, UPDATE]
    apiGroups: [batch]
    apiVersions: [v1]
    resources: [jobs, cronjobs]
    scope: Namespaced
failurePolicy: {{ $root.Values.webhook.failurePolicy }}
matchPolicy: Equivalent
sideEffects: None
timeoutSeconds: {{ $root.Values.webhook.timeoutSeconds }}
admissionReviewVersions: [v1]
namespaceSelector:
  matchExpressions:
    # The release's own namespace and the exempt ones: drydock can never
    # lock the cluster, or itself, out.
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values:
        - {{ $root.Release.Namespace }}
        {{- range $root.Values.exemptNamespaces }}
        - {{ . }}
        {{- end }}
    {{- if eq $root.Values.selection "opt-in" }}
    - key: drydock.dev/enforce
      operator: In
      values: ["true"]
    {{- else }}
    # Break glass: kubectl label namespace NAME drydock.dev/ignore=true
    - key: drydock.dev/ignore
      operator: NotIn
      values: ["true"]
    {{- end }}
{{- end }}
