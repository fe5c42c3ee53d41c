// Paths inside a package: relative, no '..', no absolute paths or drive letters (runtime/package.py).

import { PackageError } from './errors.js';

const REBUILD = 'rebuild the package with edgepack build';

/** Refuse absolute paths, drive letters and '..' so that nothing resolves outside the package. */
export function safeRelPath(name, where) {
  if (typeof name !== 'string' || !name || name.startsWith('/') || name.startsWith('\\') || (name.length > 1 && name[1] === ':')) {
    throw new PackageError(`unsafe path ${JSON.stringify(name)}: absolute paths are refused`, { where, fix: REBUILD });
  }
  const parts = name.replaceAll('\\', '/').split('/');
  if (parts.includes('..')) {
    throw new PackageError(`unsafe path ${JSON.stringify(name)}: '..' is refused`, { where, fix: REBUILD });
  }
  return parts.filter((p) => p !== '' && p !== '.').join('/');
}
