{{/* Names ------------------------------------------------------------------------------------------------ */}}

{{- define "voicefleet.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "voicefleet.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The name of one component's objects (Deployment, Service, ConfigMap...): (list $ "asr") */}}
{{- define "voicefleet.componentName" -}}
{{- $root := index . 0 }}
{{- printf "%s-%s" (include "voicefleet.fullname" $root | trunc 50 | trimSuffix "-") (index . 1) }}
{{- end }}

{{- define "voicefleet.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels: (list $ "component") */}}
{{- define "voicefleet.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "voicefleet.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "voicefleet.labels" -}}
{{- $root := index . 0 -}}
helm.sh/chart: {{ include "voicefleet.chart" $root }}
{{ include "voicefleet.selectorLabels" . }}
app.kubernetes.io/part-of: voicefleet
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
{{- end }}

{{- define "voicefleet.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "voicefleet.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "voicefleet.secretName" -}}
{{- default (include "voicefleet.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/* Images ----------------------------------------------------------------------------------------------- */}}

{{/* A voicefleet service's image: (dict "root" $ "svc" $svc). The tag defaults to the chart's appVersion;
     with the GPU switched on, gpu.tagSuffix (`-gpu`) is appended: the `gpu` target of deploy/docker/<service>.Dockerfile. */}}
{{- define "voicefleet.image" -}}
{{- $svc := .svc }}
{{- $tag := $svc.image.tag | default .root.Chart.AppVersion | toString }}
{{- if and $svc.gpu $svc.gpu.enabled }}
{{- $tag = printf "%s%s" $tag ($svc.gpu.tagSuffix | default "") }}
{{- end }}
{{- printf "%s:%s" $svc.image.repository $tag }}
{{- end }}

{{/* Environment ------------------------------------------------------------------------------------------ */}}

{{/* Settings that are secret: only ever read from the Secret (secretEnv), refused in any env map. */}}
{{- define "voicefleet.secretEnvNames" -}}
DATABASE_URL REDIS_URL LLM_API_KEY ICE_SERVERS TURN_SECRET HF_TOKEN POSTGRES_PASSWORD SERVICE_TOKEN ADMIN_API_KEY
{{- end }}

{{/* The in-cluster URL of a service of this release: (dict "root" $ "link" {service, scheme?, path?}) */}}
{{- define "voicefleet.linkUrl" -}}
{{- $link := .link }}
{{- printf "%s://%s:8000%s" ($link.scheme | default "http") (include "voicefleet.componentName" (list .root $link.service)) ($link.path | default "") }}
{{- end }}

{{/* One environment value as a string: lists and maps as JSON (pydantic reads JSON for them), whole numbers
     without Helm's float formatting (1e+06). */}}
{{- define "voicefleet.envValue" -}}
{{- if or (kindIs "slice" .) (kindIs "map" .) }}
{{- toJson . }}
{{- else if and (kindIs "float64" .) (eq (float64 .) (floor .)) }}
{{- int64 . }}
{{- else if kindIs "invalid" . }}
{{- else }}
{{- toString . }}
{{- end }}
{{- end }}

{{/* The settings a service reads from its ConfigMap, as YAML (name: "value"): (dict "root" $ "name" "asr" "svc" $svc).
     Lowest precedence first: DATA_DIR and MODEL_CACHE_DIR (the volumes), links to the other services, the
     device settings when the GPU is on, commonEnv, then the service's own env. */}}
{{- define "voicefleet.serviceEnv" -}}
{{- $root := .root }}
{{- $svc := .svc }}
{{- $env := dict }}
{{- if ne (toString $svc.sharedSettings) "false" }}
{{- $_ := set $env "DATA_DIR" "/data" }}
{{- $_ := set $env "MODEL_CACHE_DIR" "/models" }}
{{- end }}
{{- range $name, $link := $svc.links }}
{{- $target := index $root.Values.services $link.service }}
{{- if and $target $target.enabled }}
{{- $_ := set $env $name (include "voicefleet.linkUrl" (dict "root" $root "link" $link)) }}
{{- end }}
{{- end }}
{{- if and $svc.gpu $svc.gpu.enabled }}
{{- range $svc.gpu.deviceEnv }}
{{- $_ := set $env . "cuda" }}
{{- end }}
{{- end }}
{{- if ne (toString $svc.sharedSettings) "false" }}
{{- range $name, $value := $root.Values.commonEnv }}
{{- $_ := set $env $name $value }}
{{- end }}
{{- end }}
{{- range $name, $value := $svc.env }}
{{- $_ := set $env $name $value }}
{{- end }}
{{- $secret := splitList " " (include "voicefleet.secretEnvNames" $root) }}
{{- range $name, $value := $env }}
{{- if has $name $secret }}
{{- fail (printf "services.%s.env.%s is a secret: set it under `secrets` (or in secrets.existingSecret), not in a ConfigMap" $.name $name) }}
{{- end }}
{{ $name }}: {{ include "voicefleet.envValue" $value | quote }}
{{- end }}
{{- end }}

{{/* Checksum of the Secret's inputs, so that pods restart when a secret value changes. */}}
{{- define "voicefleet.secretChecksum" -}}
{{- if .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret | sha256sum }}
{{- else }}
{{- include "voicefleet.secretData" . | sha256sum }}
{{- end }}
{{- end }}

{{/* Secret ----------------------------------------------------------------------------------------------- */}}

{{/* The bundled PostgreSQL's password: given, or read back from the release's Secret, or generated once. */}}
{{- define "voicefleet.postgresPassword" -}}
{{- if .Values.postgresql.auth.password }}
{{- .Values.postgresql.auth.password }}
{{- else }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "voicefleet.fullname" .) }}
{{- if and $existing $existing.data (hasKey $existing.data "POSTGRES_PASSWORD") }}
{{- index $existing.data "POSTGRES_PASSWORD" | b64dec }}
{{- else }}
{{- if not (hasKey .Values.postgresql "_generatedPassword") }}
{{- $_ := set .Values.postgresql "_generatedPassword" (randAlphaNum 32) }}
{{- end }}
{{- .Values.postgresql._generatedPassword }}
{{- end }}
{{- end }}
{{- end }}

{{/* A secret the chart makes when values give none, kept across upgrades: given, or read back from the
     release's Secret, or generated once per render. (dict "root" $ "key" "SERVICE_TOKEN" "given" "" "new" "...") */}}
{{- define "voicefleet.keptSecret" -}}
{{- if .given }}
{{- .given }}
{{- else }}
{{- $existing := lookup "v1" "Secret" .root.Release.Namespace (include "voicefleet.fullname" .root) }}
{{- $generated := printf "_generated_%s" .key }}
{{- if and $existing $existing.data (hasKey $existing.data .key) }}
{{- index $existing.data .key | b64dec }}
{{- else }}
{{- if not (hasKey .root.Values.secrets $generated) }}
{{- $_ := set .root.Values.secrets $generated .new }}
{{- end }}
{{- index .root.Values.secrets $generated }}
{{- end }}
{{- end }}
{{- end }}

{{/* The Secret's keys and values (plain text), as YAML. */}}
{{- define "voicefleet.secretData" -}}
{{- $s := .Values.secrets }}
{{- if .Values.postgresql.enabled }}
{{- $password := include "voicefleet.postgresPassword" . }}
POSTGRES_PASSWORD: {{ $password | quote }}
DATABASE_URL: {{ printf "postgresql://%s:%s@%s:5432/%s" (urlquery .Values.postgresql.auth.username) (urlquery $password) (include "voicefleet.componentName" (list . "postgresql")) .Values.postgresql.auth.database | quote }}
{{- else if $s.databaseUrl }}
DATABASE_URL: {{ $s.databaseUrl | quote }}
{{- end }}
{{- if .Values.redis.enabled }}
REDIS_URL: {{ printf "redis://%s:6379/0" (include "voicefleet.componentName" (list . "redis")) | quote }}
{{- else if $s.redisUrl }}
REDIS_URL: {{ $s.redisUrl | quote }}
{{- end }}
{{- if $s.llmApiKey }}
LLM_API_KEY: {{ $s.llmApiKey | quote }}
{{- end }}
{{- if $s.hfToken }}
HF_TOKEN: {{ $s.hfToken | quote }}
{{- end }}
{{- if $s.iceServers }}
ICE_SERVERS: {{ $s.iceServers | toJson | quote }}
{{- end }}
{{- if $s.turnSecret }}
TURN_SECRET: {{ $s.turnSecret | quote }}
{{- end }}
{{- if and $s.adminApiKey (not (regexMatch "^vf_[0-9a-z]{12}_[A-Za-z0-9_-]{43}$" $s.adminApiKey)) }}
{{- fail "secrets.adminApiKey must be vf_<12 of a-z0-9>_<43 of A-Za-z0-9_-> (python3 deploy/env_secrets.py makes one); empty: generated" }}
{{- end }}
{{- $adminKey := printf "vf_%s_%s" (randAlphaNum 12 | lower) (randAlphaNum 43) }}
ADMIN_API_KEY: {{ include "voicefleet.keptSecret" (dict "root" . "key" "ADMIN_API_KEY" "given" $s.adminApiKey "new" $adminKey) | quote }}
SERVICE_TOKEN: {{ include "voicefleet.keptSecret" (dict "root" . "key" "SERVICE_TOKEN" "given" $s.serviceToken "new" (randAlphaNum 43)) | quote }}
{{- end }}

{{/* Pods ------------------------------------------------------------------------------------------------- */}}

{{/* The claim behind a persistence entry: (list $ "models") */}}
{{- define "voicefleet.claimName" -}}
{{- $root := index . 0 }}
{{- $key := index . 1 }}
{{- $p := index $root.Values.persistence $key }}
{{- default (include "voicefleet.componentName" (list $root (kebabcase $key))) $p.existingClaim }}
{{- end }}

{{/* A volume at /data or /models: the persistence entry's claim when enabled, else an emptyDir.
     (dict "root" $ "name" "data" "key" "voiceData") */}}
{{- define "voicefleet.volume" -}}
{{- $p := dict }}
{{- if .key }}
{{- $p = index .root.Values.persistence .key }}
{{- if not $p }}
{{- fail (printf "no persistence entry %q" .key) }}
{{- end }}
{{- end }}
- name: {{ .name }}
{{- if and .key $p.enabled }}
  persistentVolumeClaim:
    claimName: {{ include "voicefleet.claimName" (list .root .key) }}
{{- else }}
  emptyDir: {}
{{- end }}
{{- end }}

{{- define "voicefleet.preStop" -}}
{{- if gt (int .Values.preStopSleepSeconds) 0 }}
lifecycle:
  preStop:
    sleep:
      seconds: {{ int .Values.preStopSleepSeconds }}
{{- end }}
{{- end }}
