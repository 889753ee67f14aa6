// __NAME__: a bo recipe written in JavaScript (componentize-js).
//
// Copies the file `source` (relative to the buildout directory) into
// parts/<part>/. A JavaScript component has no file system API of its own: it
// works through the host's services (copy-file, extract, download, set-mode), all
// checked against the part's grants. Build it with `./build.sh` (or
// `bo recipe build .`), use it with `recipe = /path/to/__NAME__.wasm`.
import { log, configGet, copyFile } from 'bo:recipe/host@0.1.0';

export function describe() {
  return {
    names: ['__NAME__'],
    description: 'Copies a file into parts/<part>',
    capabilities: { writes: [], outside: [], hosts: [], programs: [], env: [] },
    hasUpdate: true,
  };
}

// Buildout's constructor: the [name, value] pairs returned are set on the part.
export function init(part, options) {
  return [['location', `${configGet('buildout', 'parts-directory')}/${part}`]];
}

export function install(part, options) {
  const o = new Map(options);
  if (!o.get('source')) throw `part ${part}: missing option: source`;
  const source = `${configGet('buildout', 'directory')}/${o.get('source')}`;
  const target = `${o.get('location')}/${o.get('source').split('/').pop()}`;
  try {
    copyFile(source, target);
  } catch (e) {
    // A host `err` arrives as a thrown value; throwing a string fails the part.
    throw String(e && e.payload !== undefined ? e.payload : e);
  }
  log('info', `copied ${source}`);
  return [o.get('location')];
}

export function update(part, options) {
  return [];
}

export function uninstall(part, options) {}
