// hexagonit.recipe.download for bo, in JavaScript (componentize-js).
//
// Downloads `url` through bo's cache (checked against `md5sum`, or bo's `sha256`)
// and unpacks it into `destination` (default parts/<part>), or with
// `download-only = true` copies the file there as `filename` (default: the URL's
// file name) with `mode`. `strip-top-level-dir` unpacks the contents of the
// archive's one top-level directory; an entry that already exists is an error
// unless `ignore-existing = true`, and is then replaced but not recorded (so
// uninstalling never removes what the part did not create). `on-update = true`
// installs again on update. The work is done by the host (download, extract,
// copy-file, set-mode): a JavaScript component has no file system API of its own.
//
// Needs the download's host granted: `bo build --grant PART:host=HOST`.
import { log, configGet, download, extract, copyFile, setMode, preparedDirs } from 'bo:recipe/host@0.1.0';

const TRUE_VALUES = ['yes', 'true', '1', 'on'];

function isTrue(options, name, fallback) {
  const value = options.get(name);
  if (value === undefined || value.trim() === '') return fallback;
  return TRUE_VALUES.includes(value.trim().toLowerCase());
}

function asMap(options) {
  return new Map(options.map(([k, v]) => [k, v]));
}

// Host calls return `result`s; an `err` arrives as a thrown value.
function host(call) {
  try {
    return call();
  } catch (e) {
    throw (e && e.payload !== undefined) ? String(e.payload) : String(e);
  }
}

function defaultDestination(part) {
  return `${configGet('buildout', 'parts-directory')}/${part}`;
}

export function describe() {
  return {
    names: ['hexagonit.recipe.download'],
    description: 'Downloads a file and unpacks it (or copies it) into the buildout',
    capabilities: {
      writes: ['option-dir:destination'],
      outside: [],
      hosts: ['*'],
      programs: [],
      env: [],
    },
    hasUpdate: true,
  };
}

export function init(part, options) {
  const o = asMap(options);
  const changes = [];
  const destination = (o.get('destination') || '').trim() || defaultDestination(part);
  changes.push(['destination', destination]);
  changes.push(['location', destination]);
  for (const [name, value] of [['strip-top-level-dir', 'false'], ['ignore-existing', 'false'],
                               ['download-only', 'false'], ['hash-name', 'true'], ['on-update', 'false']]) {
    if (!o.has(name)) changes.push([name, value]);
  }
  changes.push(['filename', (o.get('filename') || '').trim()]);
  if (o.has('excludes') && o.get('excludes').trim() !== '') {
    throw `part ${part}: the excludes option is not supported by bo's hexagonit.recipe.download`;
  }
  return changes;
}

export function install(part, options) {
  const o = asMap(options);
  const url = o.get('url');
  if (!url || url.trim() === '') throw `part ${part}: missing option: url`;
  const destination = o.get('destination');
  const md5 = (o.get('md5sum') || '').trim() || undefined;
  const sha256 = (o.get('sha256') || '').trim() || undefined;
  const path = host(() => download(url.trim(), sha256, md5));
  // A destination bo had to create for this call is the part's, recorded whole
  // (the original records a destination it created).
  const ownsDestination = preparedDirs().includes(destination);
  const created = [];
  if (isTrue(o, 'download-only', false)) {
    const filename = (o.get('filename') || '').trim() || url.trim().split('?')[0].split('/').pop();
    const target = `${destination}/${filename}`;
    host(() => copyFile(path, target));
    const mode = (o.get('mode') || '').trim();
    if (mode !== '') host(() => setMode(target, parseInt(mode, 8)));
    created.push(target);
  } else {
    log('info', `Extracting package to ${destination}`);
    const ignoreExisting = isTrue(o, 'ignore-existing', false);
    const strip = isTrue(o, 'strip-top-level-dir', false);
    created.push(...host(() => extract(path, destination, strip, ignoreExisting)));
  }
  return ownsDestination ? [destination] : created;
}

export function update(part, options) {
  if (isTrue(asMap(options), 'on-update', false)) return install(part, options);
  return [];
}

export function uninstall(part, options) {}
