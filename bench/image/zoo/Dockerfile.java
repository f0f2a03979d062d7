# zoo-java: a JVM app, the naive way: the whole JDK in the image and a small
# HTTP server (com.sun.net.httpserver) compiled with javac in a RUN step,
# answering on 127.0.0.1:18084. Built by `bench/build-image.sh --images zoo-java`.
ARG BASE=whittle-bench/bookworm-base:latest
FROM ${BASE}

COPY host/apt.conf.d/ /etc/apt/apt.conf.d/
# No service starts during the build (as in Debian's own base images).
RUN printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
    && apt-get update
RUN apt-get install -y default-jdk-headless

COPY zoo/java/Hello.java /app/Hello.java
RUN javac -d /app /app/Hello.java
CMD ["java", "-cp", "/app", "Hello"]
