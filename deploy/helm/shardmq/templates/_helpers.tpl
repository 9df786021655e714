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
{{- include "shardmq.validateEdge" . -}}
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

{{/*
The gateway's listeners that are on, as JSON: [{"name","port","servicePort","nodePort"}].
Plain MQTT is always on; TLS, WebSocket and WSS follow config.mqtt.tlsEnabled / wsEnabled /
wssEnabled, on config.mqtt.tlsPort / wsPort / wssPort (null: the registry default). Port names
are what the container ports, the Service and the probes agree on (at most 15 characters).
*/}}
{{- define "shardmq.listeners" -}}
{{- $mqtt := (.Values.config | default dict).mqtt | default dict -}}
{{- $svc := .Values.service.mqtt -}}
{{- $out := list (dict "name" "mqtt" "port" (include "shardmq.mqttPort" . | int) "servicePort" (int $svc.port) "nodePort" $svc.nodePort) -}}
{{- range $l := list (list "mqtts" "tls" 8883) (list "mqtt-ws" "ws" 8080) (list "mqtt-wss" "wss" 8443) -}}
{{- $key := index $l 1 -}}
{{- if index $mqtt (printf "%sEnabled" $key) -}}
{{- $p := index $mqtt (printf "%sPort" $key) -}}
{{- $port := ternary (index $l 2) $p (kindIs "invalid" $p) | int -}}
{{- $out = append $out (dict "name" (index $l 0) "port" $port "servicePort" (index $svc (printf "%sPort" $key) | int) "nodePort" (index $svc (printf "%sNodePort" $key))) -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/* True ("true") when a listener that needs the certificate (TLS or WSS) is on. */}}
{{- define "shardmq.needsCert" -}}
{{- $mqtt := (.Values.config | default dict).mqtt | default dict -}}
{{- if or $mqtt.tlsEnabled $mqtt.wssEnabled -}}true{{- end -}}
{{- end -}}

{{/*
The certificate env vars the chart sets when tls.existingSecret is mounted (path -> file), as JSON:
the Secret is mounted whole at tls.mountPath (no subPath, so the kubelet's atomic update of a
renewed certificate reaches the files and mqtt.tlsReloadCheckMs picks it up without a restart).
The CA is set only when client certificates are required (it is what they are verified against).
*/}}
{{- define "shardmq.tlsFiles" -}}
{{- $tls := .Values.tls -}}
{{- $out := dict -}}
{{- if $tls.existingSecret -}}
{{- $mqtt := (.Values.config | default dict).mqtt | default dict -}}
{{- $_ := set $out "mqtt.tlsCertFile" (printf "%s/%s" $tls.mountPath $tls.certKey) -}}
{{- $_ := set $out "mqtt.tlsKeyFile" (printf "%s/%s" $tls.mountPath $tls.keyKey) -}}
{{- if $mqtt.tlsRequireClientCert -}}
{{- $_ := set $out "mqtt.tlsCaFile" (printf "%s/%s" $tls.mountPath $tls.caKey) -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/* Checks of the listener, certificate, NATS credential, monitoring and autoscaling values. */}}
{{- define "shardmq.validateEdge" -}}
{{- $mqtt := (.Values.config | default dict).mqtt | default dict -}}
{{- $tls := .Values.tls -}}
{{- if $tls.existingSecret -}}
{{- range $k := list "tlsCertFile" "tlsKeyFile" "tlsCaFile" -}}
{{- if not (kindIs "invalid" (index $mqtt $k)) -}}
{{- fail (printf "shardmq: config.mqtt.%s is set by the chart from tls.existingSecret (mounted at tls.mountPath); leave it null" $k) -}}
{{- end -}}
{{- end -}}
{{- if and $mqtt.tlsRequireClientCert (not $tls.caKey) -}}
{{- fail "shardmq: config.mqtt.tlsRequireClientCert needs tls.caKey (the key of tls.existingSecret holding the CA bundle, e.g. ca.crt)" -}}
{{- end -}}
{{- else if and (include "shardmq.needsCert" .) (not $mqtt.tlsCertFile) -}}
{{- fail "shardmq: config.mqtt.tlsEnabled / wssEnabled need a certificate: set tls.existingSecret to a kubernetes.io/tls Secret (tls.crt, tls.key; cert-manager writes one), or mount one yourself with extraVolumes and set config.mqtt.tlsCertFile / tlsKeyFile" -}}
{{- end -}}
{{- range $l := include "shardmq.listeners" . | fromJsonArray -}}
{{- if eq (int $l.port) 0 -}}
{{- fail (printf "shardmq: the %s listener needs a fixed port in Kubernetes (config.mqtt.*Port must not be 0)" $l.name) -}}
{{- end -}}
{{- end -}}
{{- $m := .Values.metrics -}}
{{- if and $m.serviceMonitor.enabled $m.podMonitor.enabled -}}
{{- fail "shardmq: enable metrics.serviceMonitor or metrics.podMonitor, not both (every pod would be scraped twice)" -}}
{{- end -}}
{{- $flat := include "shardmq.flatConfig" . | fromJson -}}
{{- if and (or $m.serviceMonitor.enabled $m.podMonitor.enabled) (hasKey $flat "http.enabled") (not (get $flat "http.enabled")) -}}
{{- fail "shardmq: metrics.serviceMonitor / podMonitor scrape /metrics on the HTTP port: config.http.enabled must stay true" -}}
{{- end -}}
{{- $natsAuth := .Values.nats.auth -}}
{{- if and $natsAuth.existingSecret (not (or $natsAuth.userKey $natsAuth.passwordKey $natsAuth.tokenKey)) -}}
{{- fail "shardmq: nats.auth.existingSecret needs userKey and passwordKey, or tokenKey (the keys of that Secret to read)" -}}
{{- end -}}
{{- $cfgNats := (.Values.config | default dict).nats | default dict -}}
{{- if $natsAuth.existingSecret -}}
{{- range $k := list "user" "password" "token" -}}
{{- if and (index $natsAuth (printf "%sKey" $k)) (not (kindIs "invalid" (index $cfgNats $k))) -}}
{{- fail (printf "shardmq: config.nats.%s and nats.auth.%sKey both set the NATS %s: keep one" $k $k $k) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $tier, $t := .Values.tiers -}}
{{- $a := $t.autoscaling | default dict -}}
{{- if $a.enabled -}}
{{- if not (has ($a.metric | default "cpu") (list "connections" "cpu")) -}}
{{- fail (printf "shardmq: tiers.%s.autoscaling.metric must be connections or cpu, not %v" $tier $a.metric) -}}
{{- end -}}
{{- if lt (int $a.maxReplicas) (int $a.minReplicas) -}}
{{- fail (printf "shardmq: tiers.%s.autoscaling.maxReplicas must be >= minReplicas" $tier) -}}
{{- end -}}
{{- if and (ne ($a.metric | default "cpu") "connections") (not (($t.resources | default dict).requests | default dict).cpu) -}}
{{- fail (printf "shardmq: tiers.%s.autoscaling on CPU needs tiers.%s.resources.requests.cpu (utilization is measured against the request)" $tier $tier) -}}
{{- end -}}
{{- if eq ($a.metric | default "cpu") "connections" -}}
{{- if ne $tier "gateway" -}}
{{- fail (printf "shardmq: tiers.%s.autoscaling.metric connections is for the gateway only (use cpu)" $tier) -}}
{{- end -}}
{{- if gt (int $a.targetConnectionsPerPod) (int $t.maxConnections) -}}
{{- fail (printf "shardmq: tiers.gateway.autoscaling.targetConnectionsPerPod (%d) is above tiers.gateway.maxConnections (%d): the gateways would be full before they scale" (int $a.targetConnectionsPerPod) (int $t.maxConnections)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* One scrape endpoint of a ServiceMonitor or PodMonitor (metrics.serviceMonitor / podMonitor values). */}}
{{- define "shardmq.scrapeEndpoint" -}}
port: http
path: /metrics
interval: {{ .interval }}
scrapeTimeout: {{ .scrapeTimeout }}
relabelings:
  - sourceLabels: [__meta_kubernetes_pod_label_app_kubernetes_io_component]
    targetLabel: tier
{{- end -}}
