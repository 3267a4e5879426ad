'use strict';

// Lambda's file system is read-only and the deployment zip stores fixed timestamps, so Python would find every
// ordinary (timestamp-checked) .pyc stale and recompile on each cold start. After serverless-python-requirements has
// installed and slimmed the requirements, and before they and the app are zipped, this plugin compiles them with the
// runtime's Python version (pythonRequirements.pythonBin):
// - the app, the migration function and its migrations keep their sources, with `unchecked-hash` bytecode beside
//   them in __pycache__ (Python uses it without checking timestamps, and tracebacks still show the team's code);
// - the requirements ship as bytecode only (module.pyc in place of module.py), which halves their size; their
//   tracebacks keep file names and line numbers, not the source lines.
// Bytecode only loads in the Python version that wrote it, so packaging stops when pythonBin is not the runtime's
// version (pip installs wheels for the runtime's version either way: --python-version in serverless.yml).
// It is listed after serverless-python-requirements in serverless.yml, so its hook runs after it.
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const REQUIREMENTS_DIR = path.join('.serverless', 'requirements');
{%- if cookiecutter.background_jobs == "yes" %}
// What `make stage-code` copies: the three functions' modules, and the app and migrations they import.
const APP_SOURCES = ['main.py', 'migrate.py', 'worker.py', 'app', 'migrations'];
{%- else %}
// What `make stage-code` copies: the two functions' modules, and the app and migrations they import.
const APP_SOURCES = ['main.py', 'migrate.py', 'app', 'migrations'];
{%- endif %}

function removeSources(directory) {
  for (const entry of fs.readdirSync(directory, { withFileTypes: true })) {
    const entryPath = path.join(directory, entry.name);
    if (entry.isDirectory()) removeSources(entryPath);
    else if (entry.name.endsWith('.py') && fs.existsSync(`${entryPath}c`)) fs.unlinkSync(entryPath);
  }
}

class CompileBytecode {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = { 'before:package:createDeploymentArtifacts': () => this.compile() };
  }

  compile() {
    const serviceDir = this.serverless.serviceDir || this.serverless.config.servicePath;
    const python = this.serverless.service.custom.pythonRequirements.pythonBin;
    const compileall = (...args) =>
      execFileSync(python, ['-m', 'compileall', '-q', '-f', '-j', '0', ...args], { cwd: serviceDir, stdio: 'inherit' });
    const version = execFileSync(python, ['-c', 'import sys; print("python%d.%d" % sys.version_info[:2])'])
      .toString()
      .trim();
    const runtime = this.serverless.service.provider.runtime;
    if (version !== runtime) {
      throw new this.serverless.classes.Error(
        `pythonBin (${python}) is ${version}, but the function runs ${runtime}: its bytecode would not load there. ` +
          `Set PYTHON_BIN to a ${runtime} interpreter.`
      );
    }

    compileall('--invalidation-mode', 'unchecked-hash', ...APP_SOURCES);
    const requirements = path.join(serviceDir, REQUIREMENTS_DIR);
    if (fs.existsSync(requirements)) {
      // -b: legacy .pyc locations, importable without the source; -s/-p: file names as they will be on Lambda.
      compileall('-b', '-s', REQUIREMENTS_DIR, '-p', '/var/task', REQUIREMENTS_DIR);
      removeSources(requirements);
    }
  }
}

module.exports = CompileBytecode;
