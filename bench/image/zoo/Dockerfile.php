# zoo-php: Debian's apache2 with mod_php (PHP 8.2) serving index.php on
# 127.0.0.1:18082. Started through Debian's apache2ctl, which reads
# /etc/apache2/envvars and creates /var/run/apache2 and /var/lock/apache2 when
# missing; the parent runs as root, the prefork children as www-data.
# Built by `bench/build-image.sh --images zoo-php`.
ARG BASE=whittle-bench/bookworm-base:latest
FROM ${BASE}

COPY host/apt.conf.d/ /etc/apt/apt.conf.d/
# No service starts during the build (as in Debian's own base images).
RUN printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \
    && apt-get update
RUN apt-get install -y apache2 libapache2-mod-php

# Port 18082 instead of 80 (the app shares the host's network), index.php
# instead of Debian's placeholder index.html. The run and lock directories the
# postinst left behind go, as /run is empty at boot: apache2ctl makes them again
# (with mkdir, mktemp, chown, mv) at every start.
RUN sed -i -e 's/^Listen 80$/Listen 127.0.0.1:18082/' /etc/apache2/ports.conf \
    && sed -i -e 's/<VirtualHost \*:80>/<VirtualHost *:18082>/' /etc/apache2/sites-available/000-default.conf \
    && grep -q 'Listen 127.0.0.1:18082' /etc/apache2/ports.conf \
    && grep -q 'VirtualHost \*:18082' /etc/apache2/sites-available/000-default.conf \
    && rm /var/www/html/index.html \
    && rm -rf /run/apache2 /run/lock/apache2
COPY zoo/php/index.php /var/www/html/index.php
CMD ["apache2ctl", "-D", "FOREGROUND"]
