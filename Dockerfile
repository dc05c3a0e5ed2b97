# The agent image for the DaemonSet (manifests/, helm/): the shaded jar on vtrack/agent-base
# (Debian bookworm with a Java 17 runtime and docker-compose, made without any registry by
# packaging/image/agent-base-image.sh). Git work is jgit's, inside the jar. Runs as root: it needs
# the node's Docker socket.
#   mvn -B -q -DskipTests package && bash packaging/image/agent-base-image.sh \
#     && docker build -t vtrack/agent:0.1.0 .
FROM vtrack/agent-base:bookworm
COPY agent/target/vtrack-agent.jar /opt/vtrack/vtrack-agent.jar
# The switch proxy's class-data archive, made here with the image's Java: the classes a proxy
# loads until it serves (a throwaway one on loopback answers a few requests and exits). A proxy the
# agent restarts, or the DaemonSet's proxy container, maps them and serves in about half the time.
RUN java -XX:+UseSerialGC -Xss512k -XX:ArchiveClassesAtExit=/opt/vtrack/vtrack-proxy.jsa \
      -Xlog:cds=off -Xlog:cds+dynamic=off -jar /opt/vtrack/vtrack-agent.jar \
      proxy --state-dir=/tmp/proxy-training --token-file=/dev/null --exit-when-ready >/dev/null \
    && rm -rf /tmp/proxy-training && test -s /opt/vtrack/vtrack-proxy.jsa
# jgit keeps a small cache of its own under $XDG_CONFIG_HOME: on /tmp, as the root is read-only.
ENV XDG_CONFIG_HOME=/tmp
# No docker CLI in the image: docker-compose builds through the engine's API itself.
ENV COMPOSE_DOCKER_CLI_BUILD=0
EXPOSE 8787
ENTRYPOINT ["java", "-XX:MaxRAMPercentage=75", "-XX:+UseSerialGC", "-Djava.io.tmpdir=/tmp", "-jar", "/opt/vtrack/vtrack-agent.jar"]
CMD ["run", "--config", "/etc/vtrack/agent.yaml"]
