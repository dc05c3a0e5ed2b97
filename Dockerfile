# The agent image for the DaemonSet (manifests/, helm/): the shaded jar on a Java 17 runtime, with
# docker-compose (v1, which talks to the engine through DOCKER_HOST) for the compose runtime. Git
# work is jgit's, inside the jar. Runs as root: it needs the node's Docker socket.
#   mvn -B -q -DskipTests package && docker build -t vtrack/agent:0.1.0 .
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      openjdk-17-jre-headless docker-compose ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY agent/target/vtrack-agent.jar /opt/vtrack/vtrack-agent.jar
EXPOSE 8787
ENTRYPOINT ["java", "-XX:MaxRAMPercentage=75", "-Djava.io.tmpdir=/tmp", "-jar", "/opt/vtrack/vtrack-agent.jar"]
CMD ["run", "--config", "/etc/vtrack/agent.yaml"]
