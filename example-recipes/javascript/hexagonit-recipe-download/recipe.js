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
// Also bundled as gocept.download (told by the part's `recipe` option), with that
// recipe's rules: `md5sum` required, `strip-top-level-dir` on by default, a file
// that is not an archive copied as it is, and the part's directory (not a given
// `destination`) recorded.
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

// Invoked as gocept.download rather than hexagonit.recipe.download?
function isGocept(o) {
  return (o.get('recipe') || '').trim().toLowerCase().replace(/[-_]/g, '.').startsWith('gocept.download');
}

function defaultDestination(part) {
  return `${configGet('buildout', 'parts-directory')}/${part}`;
}

export function describe() {
  return {
    names: ['hexagonit.recipe.download', 'gocept.download'],
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

function initGocept(part, o) {
  const changes = [];
  const location = defaultDestination(part);
  if (!(o.get('destination') || '').trim()) changes.push(['location', location]);
  changes.push(['bin-directory', configGet('buildout', 'bin-directory')]);
  if (!o.has('strip-top-level-dir')) changes.push(['strip-top-level-dir', 'true']);
  return changes;
}

function installGocept(part, o) {
  const url = (o.get('url') || '').trim();
  const md5 = (o.get('md5sum') || '').trim();
  if (!url) throw `part ${part}: missing option: url`;
  if (!md5) throw `part ${part}: missing option: md5sum`;
  const given = (o.get('destination') || '').trim();
  const destination = given || o.get('location');
  const path = host(() => download(url, undefined, md5));
  const strip = (o.get('strip-top-level-dir') || '').trim() === 'true';
  try {
    // A given destination must be empty: an existing entry is an error.
    extract(path, destination, strip, false);
  } catch (e) {
    const message = String(e && e.payload !== undefined ? e.payload : e);
    if (!message.includes('unknown format')) throw message;
    // Not an archive: the file itself.
    host(() => copyFile(path, `${destination}/${url.split('?')[0].split('/').pop()}`));
  }
  return given ? [] : [destination];
}

export function init(part, options) {
  const o = asMap(options);
  if (isGocept(o)) return initGocept(part, o);
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
  if (isGocept(o)) return installGocept(part, o);
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
  const o = asMap(options);
  if (isGocept(o)) return [];
  if (isTrue(o, 'on-update', false)) return install(part, options);
  return [];
}

export function uninstall(part, options) {}
