// Typed errors: what went wrong, where, and how to fix it, each with the exit code the Python
// runtime documents (runtime/errors.py): 2 usage, 3 records rejected, 4 invalid package.

export const EXIT_OK = 0;
export const EXIT_CHECK_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_REJECTED = 3;
export const EXIT_PACKAGE = 4;

export class EdgepackError extends Error {
  /** @param {string} what  @param {{where?: string|null, fix?: string|null}} [opts] */
  constructor(what, { where = null, fix = null } = {}) {
    super(what);
    this.name = 'EdgepackError';
    this.what = what;
    this.where = where;
    this.fix = fix;
    this.exitCode = EXIT_CHECK_FAILED;
  }

  toString() {
    let text = this.what;
    if (this.where) text += ` [${this.where}]`;
    if (this.fix) text += `\n  how to fix: ${this.fix}`;
    return text;
  }
}

export class UsageError extends EdgepackError {
  constructor(what, opts) {
    super(what, opts);
    this.name = 'UsageError';
    this.exitCode = EXIT_USAGE;
  }
}

/** The package cannot be trusted or read: refused as a whole. */
export class PackageError extends EdgepackError {
  constructor(what, opts) {
    super(what, opts);
    this.name = 'PackageError';
    this.exitCode = EXIT_PACKAGE;
  }
}

/** One input record fails validation; scoring goes on with the others. */
export class RecordError extends EdgepackError {
  /** @param {string} reason  @param {{field?: string|null, record?: number|null}} [opts] */
  constructor(reason, { field = null, record = null } = {}) {
    const where = [record !== null ? `record ${record}` : '', field ? `field '${field}'` : ''].filter(Boolean).join(', ');
    super(reason, { where: where || null });
    this.name = 'RecordError';
    this.reason = reason;
    this.field = field;
    this.record = record;
    this.exitCode = EXIT_REJECTED;
  }
}
