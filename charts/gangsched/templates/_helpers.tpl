{{/*
The name kustomize's configMapGenerator gives a ConfigMap: NAME-HASH, HASH being the first 10 hex
digits of the SHA-256 of {"data":…,"kind":"ConfigMap","name":""} as Go's json.Marshal writes it
(sorted keys; Helm's toJson is that same encoder), with 0 1 3 a e spelt g h k m t. The name is empty:
sigs.k8s.io/kustomize/api v0.21.1's hasher (the one Kubernetes v1.36's kubectl links) looks the name
up with yaml.Lookup("metadata/name"), a single key that no object has. So the chart's ConfigMaps get
kustomize's names, and a changed file rolls the Deployment the same way; tests/chart/test_chart.py
fails if a kustomize release hashes otherwise. Argument: dict "name" NAME "data" DATA.
*/}}
{{- define "gangsched.configMapName" -}}
{{- $hash := dict "data" .data "kind" "ConfigMap" "name" "" | toJson | sha256sum | trunc 10 -}}
{{- printf "%s-%s" .name ($hash | replace "0" "g" | replace "1" "h" | replace "3" "k" | replace "a" "m" | replace "e" "t") -}}
{{- end -}}

{{/*
kube-scheduler's configuration: files/kube-scheduler-config.yaml (a link to
manifests/base/kube-scheduler-config.yaml) byte for byte while the extender and leaderElection values
equal what it says; otherwise the same file with those fields set, re-rendered as YAML.
*/}}
{{- define "gangsched.schedulerConfig" -}}
{{- $text := .Files.Get "files/kube-scheduler-config.yaml" -}}
{{- if not $text -}}{{- fail "files/kube-scheduler-config.yaml is missing or empty (a link to manifests/base)" -}}{{- end -}}
{{- $cfg := fromYaml $text -}}
{{- $before := toYaml $cfg -}}
{{- $v := .Values -}}
{{- range $cfg.extenders -}}
{{- if .bindVerb -}}
{{- $_ := set . "httpTimeout" (toString $v.extender.bindTimeout) -}}
{{- else -}}
{{- $_ := set . "httpTimeout" (toString $v.extender.filterTimeout) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $cfg.leaderElection "leaderElect" $v.leaderElection.enabled -}}
{{- $_ := set $cfg.leaderElection "resourceName" $v.leaderElection.resourceName -}}
{{- $_ := set $cfg.leaderElection "resourceNamespace" $v.leaderElection.resourceNamespace -}}
{{- $after := toYaml $cfg -}}
{{- if eq $before $after -}}{{- $text -}}{{- else -}}{{- $after -}}{{- "\n" -}}{{- end -}}
{{- end -}}

{{/*
The bind extender's httpTimeout in the shipped file (to tell whether extender.bindTimeout changed it).
*/}}
{{- define "gangsched.shippedBindTimeout" -}}
{{- $cfg := .Files.Get "files/kube-scheduler-config.yaml" | fromYaml -}}
{{- range $cfg.extenders -}}{{- if .bindVerb -}}{{- .httpTimeout -}}{{- end -}}{{- end -}}
{{- end -}}

{{/*
gangsched's configuration: files/gangsched.yaml (a link to manifests/base/gangsched.yaml) byte for
byte unless gangschedConfig sets something or extender.bindTimeout differs from the shipped bind
timeout (then barrier.bind_timeout follows it); otherwise re-rendered as YAML.
*/}}
{{- define "gangsched.gangschedConfig" -}}
{{- $text := .Files.Get "files/gangsched.yaml" -}}
{{- if not $text -}}{{- fail "files/gangsched.yaml is missing or empty (a link to manifests/base)" -}}{{- end -}}
{{- $cfg := fromYaml $text -}}
{{- $before := toYaml $cfg -}}
{{- $cfg = mergeOverwrite $cfg (deepCopy .Values.gangschedConfig) -}}
{{- if ne (toString .Values.extender.bindTimeout) (include "gangsched.shippedBindTimeout" .) -}}
{{- $_ := set $cfg.barrier "bind_timeout" (toString .Values.extender.bindTimeout) -}}
{{- end -}}
{{- $after := toYaml $cfg -}}
{{- if eq $before $after -}}{{- $text -}}{{- else -}}{{- $after -}}{{- "\n" -}}{{- end -}}
{{- end -}}

{{- define "gangsched.schedulerConfigMapName" -}}
{{- include "gangsched.configMapName" (dict "name" "gang-scheduler-config" "data" (dict "kube-scheduler-config.yaml" (include "gangsched.schedulerConfig" .))) -}}
{{- end -}}

{{- define "gangsched.gangschedConfigMapName" -}}
{{- include "gangsched.configMapName" (dict "name" "gangsched-config" "data" (dict "gangsched.yaml" (include "gangsched.gangschedConfig" .))) -}}
{{- end -}}
