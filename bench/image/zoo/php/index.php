<?php
// The zoo's PHP page: a JSON document computed from fixed inputs (no time, pid
// or host name), so every request answers the same bytes.
header('Content-Type: application/json');
$text = 'whittle zoo';
$apps = ['nginx', 'postgres', 'node', 'java', 'php', 'shell'];
sort($apps);
$doc = [
    'app' => 'zoo-php',
    'php_major' => PHP_MAJOR_VERSION,
    'sapi' => php_sapi_name(),
    'md5' => md5($text),
    'sha1' => sha1($text),
    'crc32' => sprintf('%08x', crc32($text)),
    'apps' => $apps,
    'upper' => strtoupper($text),
    'epoch_day' => gmdate('Y-m-d', 86400 * 20000),
    'ctype' => ctype_alpha('zoo'),
    'runs_as_root' => function_exists('posix_geteuid') ? posix_geteuid() === 0 : null,
];
echo json_encode($doc, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES), "\n";
