package io.vtrack.agent.model;

/** A complete, valid desired-state document for tests to parse or mutate. */
public final class Documents {
  private Documents() {}

  public static final String VALID =
      """
      apiVersion: vtrack.io/v1alpha1
      kind: VTrackDeployment
      metadata:
        name: vtrack
        labels: {vtrack.io/agent: edge-01}
      spec:
        suspend: false
        source:
          repoURL: file:///srv/git/V_Track.git
          revision: v2.4.1
          path: .
        runtime:
          type: process
          sharedPaths:
            - backend/database/
            - .env
          services:
            - name: backend
              cwd: backend
              command: [python3, app.py]
              env: {BACKEND_PORT: "8080"}
              stop: {signal: TERM, timeout: 10s}
            - name: frontend
              cwd: frontend
              command: [npm, start]
        prepare:
          - name: deps
            command: [npm, ci]
            cwd: frontend
            timeout: 5m
        validate:
          - name: syntax
            command: [python3, -m, py_compile, backend/app.py]
            timeout: 60s
        backup:
          sqlite: [backend/database/events.db]
          files: [.env]
          keep: 3
        releases: {keep: 5}
        health:
          startupTimeout: 60s
          interval: 2s
          window: 30s
          failureThreshold: 3
          checks:
            - name: backend
              http:
                url: "http://127.0.0.1:8080/api/config/get-sources"
                status: [200, 400]
                contentType: application/json
                jsonKeys: [success, data]
                json: {"data[0].id": 1}
                maxBodyBytes: 1048576
            - name: running-version
              http: {url: "http://127.0.0.1:8080/api/health", json: {version: "${file:VERSION}"}}
            - name: db-rows-kept
              sqlite:
                database: backend/database/events.db
                query: "SELECT COUNT(*) FROM processing_config"
                min: 1
                noDecrease: true
            - name: db-json
              sqlite: {database: backend/database/events.db,
                       query: "SELECT selected_cameras FROM processing_config", json: true}
            - name: db-integrity
              sqlite: {database: backend/database/events.db, integrityCheck: true}
            - name: no-errors
              log: {file: backend/logs/app.log, pattern: "(?i)\\\\berror\\\\b", max: 0}
            - name: latency
              latency: {url: "http://127.0.0.1:8080/api/config/get-sources", samples: 10,
                        maxIncrease: 10%, minDelta: 20ms}
            - name: memory
              memory: {service: backend, maxIncrease: 20%, max: 512Mi}
            - name: smoke
              command: {command: [python3, tests/smoke.py], cwd: .}
        rollback:
          automatic: true
          restoreData: true
        promotion:
          requireHealthyIn: vtrack-dev
        notify:
          - url: https://hooks.example.com/vtrack
            on: [RolledBack, Failed, Healthy]
      """;
}
