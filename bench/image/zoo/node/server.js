// The zoo's express app: GET /api/info answers a JSON document computed from
// fixed inputs (no time, pid or host name), so every run answers the same bytes.
'use strict';
const express = require('express');
const path = require('path');
const crypto = require('crypto');
const zlib = require('zlib');

const app = express();
app.disable('x-powered-by');

app.get('/api/info', (req, res) => {
  const text = 'whittle zoo';
  res.json({
    app: 'zoo-node',
    node: process.versions.node.split('.')[0],
    express: require('express/package.json').version,
    sha256: crypto.createHash('sha256').update(text).digest('hex'),
    hmac: crypto.createHmac('sha1', 'key').update(text).digest('base64'),
    gzipBytes: zlib.gzipSync(Buffer.from(text.repeat(20)), { level: 9 }).length,
    joined: path.posix.join('/srv', 'zoo', '..', 'app', 'server.js'),
    sorted: ['nginx', 'postgres', 'node', 'java', 'php', 'shell'].sort(),
  });
});

app.get('/', (req, res) => res.type('text').send('zoo-node: see /api/info\n'));

const port = Number(process.env.PORT || 18083);
app.listen(port, '127.0.0.1', () => console.log(`zoo-node listening on 127.0.0.1:${port}`));
