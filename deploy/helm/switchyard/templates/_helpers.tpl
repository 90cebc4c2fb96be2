{{/* Selector labels of a component (gateway, kernel, spawner, runner-<pool>). */}}
{{- define "switchyard.selectorLabels" -}}
app.kubernetes.io/name: {{ . }}
app.kubernetes.io/part-of: switchyard
{{- end }}

{{/* Labels of a component's objects: the selector labels plus Helm's. Takes (dict "root" $ "component" name). */}}
{{- define "switchyard.labels" -}}
{{ include "switchyard.selectorLabels" .component }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end }}

{{/* The kinds a pool serves, as the runner-pool reads them (RUNNER_SERVE_LOCAL, RUNNER_KINDS): a list. */}}
{{- define "switchyard.servedKinds" -}}
{{- $kinds := list -}}
{{- if .serveLocal }}{{ $kinds = append $kinds "local" }}{{ end -}}
{{- range .kinds }}{{ $kinds = append $kinds . }}{{ end -}}
{{- toJson $kinds -}}
{{- end }}

{{/*
A service's Deployment: probes, resources, a non-root security context, a read-only root filesystem.
Takes (dict "root" $ "component" name "args" entry "env" list "resources" map "healthPort" port
"readyPath" path, optional "replicas" n and "grace" seconds).
*/}}
{{- define "switchyard.deployment" -}}
{{- $v := .root.Values -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .component }}
  labels:
    {{- include "switchyard.labels" (dict "root" .root "component" .component) | nindent 4 }}
spec:
  {{- if hasKey . "replicas" }}
  replicas: {{ .replicas }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "switchyard.selectorLabels" .component | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "switchyard.labels" (dict "root" .root "component" .component) | nindent 8 }}
      annotations:
        prometheus.io/scrape: "true"
        prometheus.io/port: {{ ternary $v.gateway.port $v.metricsPort (eq .component "gateway") | quote }}
        checksum/config: {{ include (print .root.Template.BasePath "/configmap.yaml") .root | sha256sum }}
    spec:
      {{- if .grace }}
      terminationGracePeriodSeconds: {{ .grace }}
      {{- end }}
      securityContext:
        runAsNonRoot: true
        runAsUser: 1000
        runAsGroup: 1000
        fsGroup: 1000
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: {{ .component }}
          image: {{ $v.image | quote }}
          imagePullPolicy: {{ $v.imagePullPolicy }}
          args: [{{ .args | quote }}]
          envFrom:
            - configMapRef:
                name: switchyard
          env:
            - name: NATS_URL
              valueFrom:
                secretKeyRef: { name: {{ $v.connectionSecret | quote }}, key: NATS_URL }
            - name: REDIS_URL
              valueFrom:
                secretKeyRef: { name: {{ $v.connectionSecret | quote }}, key: REDIS_URL }
            {{- with .env }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          ports:
            {{- if eq .component "gateway" }}
            - name: http
              containerPort: {{ $v.gateway.port }}
            {{- end }}
            - name: metrics
              containerPort: {{ $v.metricsPort }}
          resources:
            {{- toYaml .resources | nindent 12 }}
          readinessProbe:
            httpGet: { path: {{ .readyPath }}, port: {{ .healthPort }} }
            periodSeconds: 5
            failureThreshold: 3
          livenessProbe:
            httpGet: { path: /healthz, port: {{ .healthPort }} }
            periodSeconds: 10
            failureThreshold: 6
            initialDelaySeconds: 10
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: [ALL]
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir: {}
{{- end }}

{{/* The components that run pods: gateway, kernel, spawner and runner-<pool> per pool (a JSON list). */}}
{{- define "switchyard.components" -}}
{{- $c := list "gateway" "kernel" "spawner" -}}
{{- range .Values.runnerPools }}{{ $c = append $c (printf "runner-%s" .name) }}{{ end -}}
{{- toJson $c -}}
{{- end }}
