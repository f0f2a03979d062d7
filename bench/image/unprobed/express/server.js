// unprobed-express: Debian's nodejs with node-express on 127.0.0.1:$PORT.
//   GET /a        a plain line: requires nothing beyond express
//   GET /b        requires semver and uuid (Debian's node-semver, node-uuid) inside
//                 the handler and answers what it computed with them
//   GET /version  the versions in the package.json files of packages installed and
//                 never required (read at run time)
// Every answer is computed from fixed inputs (no time, pid or host name).
'use strict';
const express = require('express');

const app = express();
app.disable('x-powered-by');

app.get('/a', (req, res) => res.type('text').send('unprobed-express: a\n'));

app.get('/b', (req, res) => {
  // Required here, on the first request for /b: /a never loads them.
  const semver = require('semver');
  const { v5: uuidv5 } = require('uuid');
  const versions = ['1.10.0', '1.2.3', '2.0.0-rc.1', '1.2.10', '0.9.9'];
  res.json({
    app: 'unprobed-express',
    sorted: semver.sort(versions.slice()),
    satisfying: semver.maxSatisfying(versions, '^1.2.0'),
    coerced: semver.coerce('v18.13 (Debian)').version,
    inc: semver.inc('1.2.3', 'prerelease', 'beta'),
    uuid5: uuidv5('whittle.example', uuidv5.DNS),
  });
});

app.get('/version', (req, res) => {
  res.json({
    semver: require('semver/package.json').version,
    uuid: require('uuid/package.json').version,
  });
});

const port = Number(process.env.PORT || 18093);
app.listen(port, '127.0.0.1', () => console.log(`unprobed-express listening on 127.0.0.1:${port}`));
