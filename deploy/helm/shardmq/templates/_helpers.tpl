{{/*
Names and labels. Every object is named <release>-shardmq[-<tier>] (or fullnameOverride[-<tier>]).
*/}}
{{- define "shardmq.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "shardmq.fullname" -}}
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

{{- define "shardmq.selectorLabels" -}}
app.kubernetes.io/name: {{ include "shardmq.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "shardmq.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "shardmq.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "shardmq.secretName" -}}
{{- printf "%s-secrets" (include "shardmq.fullname" .) -}}
{{- end -}}

{{/*
The published naming rule (common/src/config/setting.ts envName): config path `mqtt.maxPacketBytes`
-> SHARDMQ_MQTT_MAX_PACKET_BYTES. Each segment: an underscore before every upper-case letter that
follows a lower-case letter or digit, then upper case; segments joined by "_".
*/}}
{{- define "shardmq.envName" -}}
{{- $segs := list -}}
{{- range splitList "." . -}}
{{- $segs = append $segs (regexReplaceAll "([a-z0-9])([A-Z])" . "${1}_${2}" | upper) -}}
{{- end -}}
SHARDMQ_{{ join "_" $segs }}
{{- end -}}

{{/*
A config value as the env text the loader parses: lists comma separated, numbers as decimal
integers (YAML numbers arrive as float64, which would otherwise print as 4.294967295e+09).
*/}}
{{- define "shardmq.envValue" -}}
{{- if kindIs "slice" . -}}
{{- join "," . -}}
{{- else if or (kindIs "float64" .) (kindIs "int64" .) (kindIs "int" .) -}}
{{- int64 . -}}
{{- else -}}
{{- . -}}
{{- end -}}
{{- end -}}

{{/*
Flattens .map into .out: {"mqtt": {"port": 1883}} -> {"mqtt.port": 1883}. Writes nothing; call as
{{ $_ := include "shardmq.flatten" (dict "prefix" "" "map" .Values.config "out" $flat) }}.
*/}}
{{- define "shardmq.flatten" -}}
{{- $out := .out -}}
{{- $prefix := .prefix -}}
{{- range $k, $v := .map -}}
{{- $path := ternary $k (printf "%s.%s" $prefix $k) (eq $prefix "") -}}
{{- if kindIs "map" $v -}}
{{- $_ := include "shardmq.flatten" (dict "prefix" $path "map" $v "out" $out) -}}
{{- else -}}
{{- $_ := set $out $path $v -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Every set config.* value as a flat map of path -> value (nulls dropped), as JSON. */}}
{{- define "shardmq.flatConfig" -}}
{{- $flat := dict -}}
{{- $_ := include "shardmq.flatten" (dict "prefix" "" "map" (.Values.config | default dict) "out" $flat) -}}
{{- $set := dict -}}
{{- range $k, $v := $flat -}}
{{- if not (kindIs "invalid" $v) -}}
{{- $_ := set $set $k $v -}}
{{- end -}}
{{- end -}}
{{- toJson $set -}}
{{- end -}}

{{/* Secret config.* values that are set (path -> value), as JSON. */}}
{{- define "shardmq.secretConfig" -}}
{{- $secretKeys := splitList "," (include "shardmq.secretSettings" .) -}}
{{- $out := dict -}}
{{- range $k, $v := (include "shardmq.flatConfig" . | fromJson) -}}
{{- if has $k $secretKeys -}}
{{- $_ := set $out $k $v -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/* The NATS URL every tier joins: config.nats.url if set, else nats.url. */}}
{{- define "shardmq.natsUrl" -}}
{{- $cfg := (.Values.config | default dict).nats | default dict -}}
{{- coalesce $cfg.url .Values.nats.url "" -}}
{{- end -}}

{{/* Stops rendering with a message when the values cannot make a working cluster. */}}
{{- define "shardmq.validate" -}}
{{- $auth := (.Values.config | default dict).auth | default dict -}}
{{- if and .Values.database.required (not .Values.secrets.existingSecret) (not $auth.databaseUrl) (not $auth.hosts) -}}
{{- fail "shardmq: device authentication needs a database: set config.auth.databaseUrl (postgres://user:password@host:5432/db; stored in a Secret), or config.auth.hosts plus config.auth.user/password, or secrets.existingSecret holding SHARDMQ_AUTH_DATABASE_URL. For a trial without auth set database.required=false." -}}
{{- end -}}
{{- if not (include "shardmq.natsUrl" .) -}}
{{- fail "shardmq: the tiers run as separate Deployments and need NATS (with JetStream): set nats.url (e.g. nats://nats:4222)" -}}
{{- end -}}
{{- range $tier, $t := .Values.tiers -}}
{{- if lt (include "shardmq.stopTimeoutMs" $t | int) 1000 -}}
{{- fail (printf "shardmq: tiers.%s.terminationGracePeriodSeconds must exceed preStopSleepSeconds + stopMarginSeconds by at least 1 s (the stop deadline)" $tier) -}}
{{- end -}}
{{- end -}}
{{- $gw := .Values.tiers.gateway -}}
{{- $drain := include "shardmq.gatewayDrainSeconds" . | int -}}
{{- $need := add (int ($gw.preStopSleepSeconds | default 0)) $drain (mul 2 (int $gw.stopMarginSeconds)) -}}
{{- if lt (int $gw.terminationGracePeriodSeconds) $need -}}
{{- fail (printf "shardmq: tiers.gateway.terminationGracePeriodSeconds (%d) is shorter than a full gateway's drain: preStopSleepSeconds %d + maxConnections / config.gateway.drainRatePerS = %d s + 2 x stopMarginSeconds %d = %d s" (int $gw.terminationGracePeriodSeconds) (int ($gw.preStopSleepSeconds | default 0)) $drain (int $gw.stopMarginSeconds) $need) -}}
{{- end -}}
{{- range $name, $port := dict "http" (include "shardmq.httpPort" .) "mqtt" (include "shardmq.mqttPort" .) -}}
{{- if eq $port "0" -}}
{{- fail (printf "shardmq: config.%s.port must be a fixed port in Kubernetes (probes, scraping and the Service use it)" $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Graceful stop arithmetic (docs/operations.md, "Graceful stop"), per tier:
  stop deadline (SHARDMQ_NODE_STOP_TIMEOUT_MS) = terminationGracePeriodSeconds - preStopSleepSeconds - stopMarginSeconds
and for the gateway the deadline must cover the drain of a full gateway plus the margin:
  deadline >= ceil(maxConnections / config.gateway.drainRatePerS) + stopMarginSeconds
*/}}
{{- define "shardmq.stopTimeoutMs" -}}
{{- mul (sub (sub (int .terminationGracePeriodSeconds) (int (.preStopSleepSeconds | default 0))) (int .stopMarginSeconds)) 1000 -}}
{{- end -}}

{{- define "shardmq.gatewayDrainSeconds" -}}
{{- $rate := ((.Values.config | default dict).gateway | default dict).drainRatePerS | default 500 | int -}}
{{- $n := int .Values.tiers.gateway.maxConnections -}}
{{- div (add $n (sub $rate 1)) $rate -}}
{{- end -}}

{{/* Container ports, from config.* (null: the registry default). */}}
{{- define "shardmq.httpPort" -}}
{{- $v := ((.Values.config | default dict).http | default dict).port -}}
{{- if kindIs "invalid" $v -}}9464{{- else -}}{{- int64 $v -}}{{- end -}}
{{- end -}}

{{- define "shardmq.mqttPort" -}}
{{- $v := ((.Values.config | default dict).mqtt | default dict).port -}}
{{- if kindIs "invalid" $v -}}1883{{- else -}}{{- int64 $v -}}{{- end -}}
{{- end -}}
