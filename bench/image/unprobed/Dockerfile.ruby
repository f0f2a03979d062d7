# unprobed-ruby: Debian's ruby and Sinatra on WEBrick (ruby-sinatra,
# ruby-webrick and their dependencies, all from apt) serving 127.0.0.1:18098.
# /a answers a line; /b requires, inside its handler, parts of Ruby's standard
# library with compiled extensions (json, digest, bigdecimal, date) that /a
# never loads; /c renders an ERB template, which Sinatra's template library
# loads on first use. Traced through /a only.
# Built by `bench/build-image.sh --images unprobed-ruby`.
ARG BASE=whittle-bench/bookworm-base:latest
FROM ${BASE}

COPY host/apt.conf.d/ /etc/apt/apt.conf.d/
# No service starts during the build (as in Debian's own base images).
RUN printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
    && apt-get update
RUN apt-get install -y --no-install-recommends ruby ruby-sinatra ruby-webrick

COPY unprobed/ruby/app.rb /app/app.rb
ENV PORT=18098
CMD ["ruby", "/app/app.rb"]
