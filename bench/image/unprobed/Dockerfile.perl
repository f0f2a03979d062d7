# unprobed-perl: Debian's perl and HTTP::Daemon (libhttp-daemon-perl and the
# libraries it depends on, all from apt) serving 127.0.0.1:18097. /a answers a
# line; /b loads, inside its handler, modules of the packages the server uses
# that /a never loads (HTTP::Request::Common, LWP::MediaTypes with its table,
# URI::QueryParam) and core modules with compiled halves (Digest::SHA); /c
# loads JSON::PP from Perl's own library. Traced through /a only.
# Built by `bench/build-image.sh --images unprobed-perl`.
ARG BASE=whittle-bench/bookworm-base:latest
FROM ${BASE}

COPY host/apt.conf.d/ /etc/apt/apt.conf.d/
# No service starts during the build (as in Debian's own base images).
RUN printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
    && apt-get update
RUN apt-get install -y --no-install-recommends perl libhttp-daemon-perl

COPY unprobed/perl/server.pl /app/server.pl
ENV PORT=18097
CMD ["perl", "/app/server.pl"]
