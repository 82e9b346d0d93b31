{{/* Names and labels. */}}
{{- define "oauth-stack.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* A component's object name: auth_server -> <fullname>-auth-server. */}}
{{- define "oauth-stack.name" -}}
{{- printf "%s-%s" (include "oauth-stack.fullname" .ctx) (.name | replace "_" "-") -}}
{{- end -}}

{{- define "oauth-stack.selectorLabels" -}}
app.kubernetes.io/name: {{ .ctx.Chart.Name }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* `code`: the service whose code and credentials the pod runs; NetworkPolicies of Postgres and
Redis admit pods by it. */}}
{{- define "oauth-stack.labels" -}}
{{ include "oauth-stack.selectorLabels" . }}
app.kubernetes.io/part-of: {{ .ctx.Chart.Name }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version }}
{{- with .code }}
oauth-stack/code: {{ . }}
{{- end }}
{{- end -}}

{{/* The wiring declaration: files/wiring.yaml is a link to stack/wiring.yaml. */}}
{{- define "oauth-stack.wiring" -}}
{{- .Files.Get "files/wiring.yaml" -}}
{{- end -}}

{{- define "oauth-stack.image" -}}
{{- $ctx := .ctx -}}
{{- $ref := index $ctx.Values.images .name -}}
{{- if contains ":" $ref -}}
{{- $ref -}}
{{- else -}}
{{- $registry := $ctx.Values.image.registry | trimSuffix "/" -}}
{{- printf "%s%s:%s" (ternary "" (printf "%s/" $registry) (eq $registry "")) $ref ($ctx.Values.image.tag | default $ctx.Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{- define "oauth-stack.envSecret" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-env" (include "oauth-stack.fullname" .)) -}}
{{- end -}}

{{- define "oauth-stack.externalSecret" -}}
{{- .Values.external.existingSecret | default (printf "%s-external" (include "oauth-stack.fullname" .)) -}}
{{- end -}}

{{- define "oauth-stack.oidcSecret" -}}
{{- .Values.oidcKey.existingSecret | default (printf "%s-oidc-key" (include "oauth-stack.fullname" .)) -}}
{{- end -}}

{{/* Non-secret ${NAME}s: `config` and PUBLIC_URL. */}}
{{- define "oauth-stack.vars" -}}
{{- toYaml (merge (dict "PUBLIC_URL" (trimSuffix "/" .Values.publicUrl)) .Values.config) -}}
{{- end -}}

{{/* Is this connection URL served by the chart's own Postgres or Redis? */}}
{{- define "oauth-stack.bundledConnection" -}}
{{- if or (and (contains "{postgres}" .value) .ctx.Values.postgres.bundled) (and (contains "{redis}" .value) .ctx.Values.redis.bundled) }}true{{ end -}}
{{- end -}}

{{/* Where each {place} of the wiring is in the cluster, for `service`'s pods. */}}
{{- define "oauth-stack.places" -}}
{{- $ctx := .ctx -}}
{{- $w := include "oauth-stack.wiring" $ctx | fromYaml -}}
{{- $places := dict
  "postgres" (printf "%s:5432" (include "oauth-stack.name" (dict "ctx" $ctx "name" "postgres")))
  "redis" (printf "%s:6379" (include "oauth-stack.name" (dict "ctx" $ctx "name" "redis")))
  "static" "/srv/static"
  "oidc" "/var/lib/oidc" -}}
{{- range $name, $spec := $w.services -}}
{{- $_ := set $places $name (printf "%s:%v" (include "oauth-stack.name" (dict "ctx" $ctx "name" $spec.host)) $spec.port) -}}
{{- end -}}
{{- $spec := index $w.services .service -}}
{{- $_ := set $places "metrics" (printf "0.0.0.0:%v" $spec.metrics_port) -}}
{{- $hosts := list (urlParse $ctx.Values.publicUrl).hostname (include "oauth-stack.name" (dict "ctx" $ctx "name" $spec.host)) "localhost" -}}
{{- $_ := set $places "hosts" (join "," ($hosts | uniq)) -}}
{{- toYaml $places -}}
{{- end -}}

{{/* A wiring value with its ${NAME}s from `vars` (or their defaults) and its {place}s filled in. */}}
{{- define "oauth-stack.render" -}}
{{- $out := .value -}}
{{- range $m := regexFindAll "\\$\\{[^}]+\\}" .value -1 -}}
{{- $parts := splitn ":-" 2 (trimSuffix "}" (trimPrefix "${" $m)) -}}
{{- if hasKey $.vars $parts._0 -}}
{{- $out = replace $m (toString (index $.vars $parts._0)) $out -}}
{{- else if contains ":-" $m -}}
{{- $out = replace $m $parts._1 $out -}}
{{- else -}}
{{- fail (printf "%s in %q is neither in `config` nor a secret" $parts._0 $.value) -}}
{{- end -}}
{{- end -}}
{{- range $m := regexFindAll "\\{[a-z_]+\\}" $out -1 -}}
{{- $place := trimAll "{}" $m -}}
{{- if not (hasKey $.places $place) }}{{ fail (printf "no place %s" $m) }}{{ end -}}
{{- $out = replace $m (index $.places $place) $out -}}
{{- end -}}
{{- $out -}}
{{- end -}}

{{/* The secret ${NAME}s the release needs, sorted: every ${NAME} of the wiring without a default
(${NAME:-default} is a setting) that is not `config`, except those inside connection URLs of external Postgres and Redis; plus the bundled
servers' own passwords. */}}
{{- define "oauth-stack.secretNames" -}}
{{- $w := include "oauth-stack.wiring" . | fromYaml -}}
{{- $vars := include "oauth-stack.vars" . | fromYaml -}}
{{- $values := values $w.env -}}
{{- range $w.services }}{{ $values = concat $values (values .env) (values (.bootstrap_env | default dict)) }}{{ end -}}
{{- range $w.workers }}{{ $values = concat $values (values (.env | default dict)) }}{{ end -}}
{{- $names := list -}}
{{- range $t := $values -}}
{{- if or (not (regexMatch "\\{(postgres|redis)\\}" $t)) (include "oauth-stack.bundledConnection" (dict "ctx" $ "value" $t)) -}}
{{- range $m := regexFindAll "\\$\\{\\w+\\}" $t -1 -}}
{{- $name := trimAll "${}" $m -}}
{{- if not (hasKey $vars $name) }}{{ $names = append $names $name }}{{ end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if .Values.postgres.bundled }}{{ $names = append $names "POSTGRES_PASSWORD" }}{{ end -}}
{{- if .Values.redis.bundled }}{{ $names = append $names "REDIS_PASSWORD" }}{{ end -}}
{{- toYaml (dict "names" ($names | uniq | sortAlpha)) -}}
{{- end -}}

{{/* The environment of a container running `service`'s code, as the wiring declares it
(`bootstrap`: that of its `manage.py bootstrap`; `extra`: a worker's own). Secrets come from
Secrets; a bundled server's connection URL is composed from its password by Kubernetes ($(NAME)). */}}
{{- define "oauth-stack.env" -}}
{{- $ctx := .ctx -}}
{{- $service := .service -}}
{{- $w := include "oauth-stack.wiring" $ctx | fromYaml -}}
{{- $spec := index $w.services $service -}}
{{- $declared := merge (dict) (.extra | default dict) (ternary ($spec.bootstrap_env | default dict) (dict) (.bootstrap | default false)) $spec.env $w.env -}}
{{- $vars := include "oauth-stack.vars" $ctx | fromYaml -}}
{{- $places := include "oauth-stack.places" (dict "ctx" $ctx "service" $service) | fromYaml -}}
{{- $passwords := list -}}
{{- range $name, $t := $declared -}}
{{- if include "oauth-stack.bundledConnection" (dict "ctx" $ctx "value" $t) -}}
{{- range $m := regexFindAll "\\$\\{\\w+" $t -1 }}{{ $passwords = append $passwords (trimPrefix "${" $m) }}{{ end -}}
{{- end -}}
{{- end -}}
{{- range $name := $passwords | uniq | sortAlpha }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "oauth-stack.envSecret" $ctx }}
      key: {{ $name }}
{{- end }}
{{- range $name := keys $declared | sortAlpha }}
{{- $t := index $declared $name | toString }}
- name: {{ $name }}
{{- if include "oauth-stack.bundledConnection" (dict "ctx" $ctx "value" $t) }}
  value: {{ include "oauth-stack.render" (dict "value" (regexReplaceAll "\\$\\{(\\w+)\\}" $t "$$($1)") "vars" $vars "places" $places) | quote }}
{{- else if regexMatch "\\{(postgres|redis)\\}" $t }}
  valueFrom:
    secretKeyRef:
      name: {{ include "oauth-stack.externalSecret" $ctx }}
      key: {{ printf "%s.%s" $service $name }}
{{- else if and (regexMatch "^\\$\\{\\w+\\}$" $t) (not (hasKey $vars (trimAll "${}" $t))) }}
  valueFrom:
    secretKeyRef:
      name: {{ include "oauth-stack.envSecret" $ctx }}
      key: {{ trimAll "${}" $t }}
{{- else }}
  value: {{ include "oauth-stack.render" (dict "value" $t "vars" $vars "places" $places) | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Does `service`'s environment name a directory {place}? */}}
{{- define "oauth-stack.usesPlace" -}}
{{- $w := include "oauth-stack.wiring" .ctx | fromYaml -}}
{{- range (index $w.services .service).env }}{{ if contains (printf "{%s}" $.place) . }}true{{ end }}{{ end -}}
{{- end -}}

{{- define "oauth-stack.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "oauth-stack.securityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* What every pod of the release shares: no API token, the pull secrets, scheduling, spread. */}}
{{- define "oauth-stack.podCommon" -}}
automountServiceAccountToken: false
securityContext:
  {{- include "oauth-stack.podSecurityContext" . | nindent 2 }}
{{- with .ctx.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .ctx.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .ctx.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .ctx.Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if .spread }}
topologySpreadConstraints:
{{- range .ctx.Values.topologySpread }}
  - topologyKey: {{ .topologyKey }}
    maxSkew: {{ .maxSkew }}
    whenUnsatisfiable: {{ .whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "oauth-stack.selectorLabels" $ | nindent 8 }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Volumes a service's code needs: /tmp, and the OIDC key where the wiring places one. */}}
{{- define "oauth-stack.appVolumes" -}}
- name: tmp
  emptyDir: {sizeLimit: 64Mi}
{{- if include "oauth-stack.usesPlace" (dict "ctx" .ctx "service" .service "place" "static") }}
- name: static
  emptyDir: {sizeLimit: 256Mi}
{{- end }}
{{- if include "oauth-stack.usesPlace" (dict "ctx" .ctx "service" .service "place" "oidc") }}
- name: oidc-key
  secret:
    secretName: {{ include "oauth-stack.oidcSecret" .ctx }}
    defaultMode: 0440
{{- end }}
{{- end -}}

{{- define "oauth-stack.appMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if include "oauth-stack.usesPlace" (dict "ctx" .ctx "service" .service "place" "static") }}
- name: static
  mountPath: /srv/static
{{- end }}
{{- if include "oauth-stack.usesPlace" (dict "ctx" .ctx "service" .service "place" "oidc") }}
- name: oidc-key
  mountPath: /var/lib/oidc
  readOnly: true
{{- end }}
{{- end -}}

{{/* An init container that waits until `service`'s database is migrated (by the bootstrap Job),
for the service's pods and its workers; nothing for a service without a database. */}}
{{- define "oauth-stack.waitForBootstrap" -}}
{{- $w := include "oauth-stack.wiring" .ctx | fromYaml -}}
{{- $migrated := "" -}}
{{- range (index $w.services .service).env }}{{ if contains "{postgres}" . }}{{ $migrated = "true" }}{{ end }}{{ end -}}
{{- if $migrated }}
- name: wait-for-bootstrap
  image: {{ include "oauth-stack.image" (dict "ctx" .ctx "name" .service) }}
  imagePullPolicy: {{ .ctx.Values.image.pullPolicy }}
  command: ["sh", "-c", "until python manage.py migrate --check >/dev/null; do echo 'waiting for the bootstrap Job to migrate the database'; sleep 3; done"]
  env:
    {{- include "oauth-stack.env" (dict "ctx" .ctx "service" .service) | nindent 4 }}
  resources:
    {{- toYaml .resources | nindent 4 }}
  securityContext:
    {{- include "oauth-stack.securityContext" . | nindent 4 }}
  volumeMounts:
    {{- include "oauth-stack.appMounts" . | nindent 4 }}
{{- end }}
{{- end -}}

{{/* A component's PodDisruptionBudget and, when enabled, its HorizontalPodAutoscaler. */}}
{{- define "oauth-stack.scaling" -}}
{{- $ctx := dict "ctx" .ctx "component" .component }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ .name }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "oauth-stack.labels" $ctx | nindent 4 }}
spec:
  minAvailable: {{ .values.pdb.minAvailable }}
  selector:
    matchLabels:
      {{- include "oauth-stack.selectorLabels" $ctx | nindent 6 }}
{{- if .values.autoscaling.enabled }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ .name }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "oauth-stack.labels" $ctx | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ .name }}
  minReplicas: {{ .values.autoscaling.minReplicas }}
  maxReplicas: {{ .values.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ .values.autoscaling.targetCPUUtilizationPercentage }}
{{- end }}
{{- end -}}

{{/* The environment `collectstatic` needs to load `service`'s settings: the wiring's names, with
its plain values, and stand-ins for secrets and connection URLs (nothing is signed or connected
to), so that nginx's pods hold no credentials. */}}
{{- define "oauth-stack.staticEnv" -}}
{{- $w := include "oauth-stack.wiring" .ctx | fromYaml -}}
{{- $spec := index $w.services .service -}}
{{- $declared := merge (dict) $spec.env $w.env -}}
{{- $vars := include "oauth-stack.vars" .ctx | fromYaml -}}
{{- $places := include "oauth-stack.places" (dict "ctx" .ctx "service" .service) | fromYaml -}}
{{- range $name := keys $declared | sortAlpha }}
{{- $t := index $declared $name | toString }}
- name: {{ $name }}
{{- if contains "{postgres}" $t }}
  value: "postgres://collectstatic@localhost/collectstatic"
{{- else if contains "{redis}" $t }}
  value: "redis://localhost/0"
{{- else if and (regexMatch "^\\$\\{\\w+\\}$" $t) (not (hasKey $vars (trimAll "${}" $t))) }}
  value: "collectstatic-only"
{{- else }}
  value: {{ include "oauth-stack.render" (dict "value" $t "vars" $vars "places" $places) | quote }}
{{- end }}
{{- end }}
{{- end -}}


{{/* Does nginx take the scheme from the proxy in front (X-Forwarded-Proto)? nginx.trustForwardedProto
when set (true or false), else whether the chart's Ingress ends TLS. */}}
{{- define "oauth-stack.trustForwardedProto" -}}
{{- if kindIs "bool" .Values.nginx.trustForwardedProto -}}
{{- .Values.nginx.trustForwardedProto -}}
{{- else -}}
{{- and .Values.ingress.enabled .Values.ingress.tls.enabled -}}
{{- end -}}
{{- end -}}
