'use strict';

// serverless-python-requirements installs the wheels for the function's architecture (pip's --platform in
// serverless.yml), whichever machine packages. Its own strip step runs that machine's `strip`, which cannot read
// another architecture's libraries (an x86_64 strip leaves arm64 ones whole: about 2.5 MB more in the zip) and is
// skipped on macOS. This plugin, listed after it, works the same everywhere:
// - every ELF file in the requirements must be a 64-bit library for provider.architecture, or packaging stops, so a
//   wheel for the wrong machine fails here rather than at the function's first import;
// - each is cut after the last byte its program headers load, which drops the section headers, the symbol table and
//   debug information, as `strip` does. The dynamic loader reads program headers only; what is cut is never mapped.
const fs = require('fs');
const path = require('path');

const REQUIREMENTS_DIR = path.join('.serverless', 'requirements');
// ELF e_machine of each Lambda architecture.
const MACHINES = { x86_64: 62, arm64: 183 };
const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const PN_XNUM = 0xffff;

function* files(directory) {
  for (const entry of fs.readdirSync(directory, { withFileTypes: true })) {
    const entryPath = path.join(directory, entry.name);
    if (entry.isDirectory()) yield* files(entryPath);
    else if (entry.isFile()) yield entryPath;
  }
}

function readElf(file) {
  const data = fs.readFileSync(file);
  if (data.length < 64 || !data.subarray(0, 4).equals(ELF_MAGIC)) return null;
  return data;
}

// The file's length once everything no program header loads is cut, or null when the layout is not the usual one
// (then the file is left as it is).
function loadedLength(data) {
  const phoff = Number(data.readBigUInt64LE(0x20));
  const shoff = Number(data.readBigUInt64LE(0x28));
  const phentsize = data.readUInt16LE(0x36);
  const phnum = data.readUInt16LE(0x38);
  if (phnum === 0 || phnum === PN_XNUM || phoff + phentsize * phnum > data.length) return null;
  let end = phoff + phentsize * phnum;
  for (let index = 0; index < phnum; index += 1) {
    const header = phoff + index * phentsize;
    end = Math.max(end, Number(data.readBigUInt64LE(header + 8)) + Number(data.readBigUInt64LE(header + 32)));
  }
  return end < data.length && shoff >= end ? end : null;
}

function strip(file, data) {
  const end = loadedLength(data);
  if (end === null) return;
  const stripped = Buffer.from(data.subarray(0, end));
  stripped.writeBigUInt64LE(0n, 0x28); // e_shoff: no section header table
  stripped.writeUInt16LE(0, 0x3a); // e_shentsize
  stripped.writeUInt16LE(0, 0x3c); // e_shnum
  stripped.writeUInt16LE(0, 0x3e); // e_shstrndx
  fs.writeFileSync(file, stripped);
}

class StripBinaries {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = { 'before:package:createDeploymentArtifacts': () => this.strip() };
  }

  strip() {
    const serviceDir = this.serverless.serviceDir || this.serverless.config.servicePath;
    const requirements = path.join(serviceDir, REQUIREMENTS_DIR);
    if (!fs.existsSync(requirements)) return;
    const architecture = this.serverless.service.provider.architecture || 'x86_64';
    const machine = MACHINES[architecture];
    if (machine === undefined) {
      throw new this.serverless.classes.Error(`Unknown provider.architecture ${architecture}: use arm64 or x86_64`);
    }
    const foreign = [];
    for (const file of files(requirements)) {
      const data = readElf(file);
      if (data === null) continue;
      if (data[4] !== ELFCLASS64 || data[5] !== ELFDATA2LSB || data.readUInt16LE(0x12) !== machine) {
        foreign.push(path.relative(requirements, file));
      } else {
        strip(file, data);
      }
    }
    if (foreign.length > 0) {
      throw new this.serverless.classes.Error(
        `Not built for ${architecture}, the function's architecture: ${foreign.join(', ')}. ` +
          'Check pipCmdExtraArgs in serverless.yml (--platform) and where these files come from.'
      );
    }
  }
}

module.exports = StripBinaries;
