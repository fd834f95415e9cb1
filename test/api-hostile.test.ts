// The API side of the hostile suite, against the real server process over real HTTP: every tar
// attack, hostile bodies and forms, slow clients. Each ends in a clear JSON refusal while the server
// serves on, and leaves nothing: no spool file or other new file in data_dir, no fd more than before,
// no container or volume (checked as each server closes). Routes, auth and ids:
// test/api-hostile-routes.test.ts.
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { once } from 'node:events';
import { createGzip, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTar, ustarHeader, type TarEntry } from '../server/archive/test-tarballs.js';
import { rawTar } from '../server/tree-diff/test-trees.js';
import { expectNothingLeft, expectRefusal, rawExchange, send, serverState, type RawAnswer, type Sent, type ServerState } from './fixtures/hostile-http.js';
import { multipartBody, rawConnection, type Part } from './fixtures/raw-http.js';
import { startServerProcess, type ServerProcess } from './fixtures/server-process.js';
import { ATTACK_SERVER_CONFIG } from './fixtures/upload-attacks.js';

const MiB = 1024 * 1024;
const BOUNDARY = 'hostile-7d2a';
/** ATTACK_SERVER_CONFIG's caps, which the messages below name. */
const WORKSPACE_MAX_BYTES = ATTACK_SERVER_CONFIG.sandbox.workspace_mb * MiB;
const MAX_ENTRIES = ATTACK_SERVER_CONFIG.limits.workspace_max_entries;
const PROMPT_MAX_BYTES = ATTACK_SERVER_CONFIG.limits.prompt_max_bytes;
/** What an upload that passes every check gets from a server whose provider has no key. */
const ACCEPTED: [number, string, RegExp] = [503, 'not_ready', /provider keyless cannot serve runs/];

function postForm(server: ServerProcess, parts: Part[], headers: Record<string, string> = {}): Promise<Sent> {
  return send(server.url, {
    method: 'POST',
    path: '/v1/runs',
    headers: { authorization: `Bearer ${server.token}`, 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, ...headers },
    body: multipartBody(BOUNDARY, parts),
  });
}

function postJson(server: ServerProcess, body: string): Promise<Sent> {
  return send(server.url, { method: 'POST', path: '/v1/runs', headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' }, body });
}

const upload = (server: ServerProcess, workspace: Buffer) =>
  postForm(server, [{ name: 'prompt', body: 'fix it' }, { name: 'workspace', filename: 'ws.tar', contentType: 'application/x-tar', body: workspace }]);

/** The head of a request written by hand, for a raw socket. */
function requestHead(server: ServerProcess, headers: Record<string, string | number>, method = 'POST', target = '/v1/runs'): string {
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: x', `Authorization: Bearer ${server.token}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return `${lines.join('\r\n')}\r\n\r\n`;
}

const compress = (tool: string, bytes: Buffer) => execFileSync(tool, ['-c'], { input: bytes, maxBuffer: 64 * MiB });

function sparse1TiB(): Buffer {
  const tib = 2 ** 40;
  const map = `1\n${tib - 1}\n1\n`;
  const body = Buffer.concat([Buffer.from(map), Buffer.alloc(512 - map.length), Buffer.from('x')]);
  return rawTar([{ name: 'GNUSparseFile.1/huge.img', pax: { 'GNU.sparse.major': '1', 'GNU.sparse.minor': '0', 'GNU.sparse.name': 'huge.img', 'GNU.sparse.realsize': String(tib) }, body }]);
}

/** A gzip of these chunks in turn, at level 9, deflated as it goes: the inflated bytes are never held whole. */
async function gzipOf(chunks: Iterable<Buffer>): Promise<Buffer> {
  const gzip = createGzip({ level: 9 });
  const out: Buffer[] = [];
  gzip.on('data', (c: Buffer) => out.push(c));
  const ended = once(gzip, 'end');
  for (const chunk of chunks) if (!gzip.write(chunk)) await once(gzip, 'drain');
  gzip.end();
  await ended;
  return Buffer.concat(out);
}

function* repeated(chunk: Buffer, times: number): Iterable<Buffer> {
  for (let i = 0; i < times; i++) yield chunk;
}

/** `count` files of `size` bytes of zeros each, the tar written as it is deflated. */
function* zeroFiles(count: number, size: number): Iterable<Buffer> {
  const zeros = Buffer.alloc(MiB);
  for (let i = 0; i < count; i++) {
    yield ustarHeader(`z${i}`, size, '0');
    for (let left = size; left > 0; left -= zeros.length) yield left >= zeros.length ? zeros : zeros.subarray(0, left);
  }
  yield Buffer.alloc(1024);
}

interface TarAttack {
  name: string;
  tar: () => Promise<Buffer> | Buffer;
  /** Also sent gzip-compressed, with the same answer. */
  gzip: boolean;
  answer: [number, string, RegExp];
}

const tarOf = (entries: TarEntry[]) => () => makeTar(entries);
const invalid = (message: RegExp): [number, string, RegExp] => [400, 'workspace_invalid', message];
const tooLarge = (message: RegExp): [number, string, RegExp] => [413, 'workspace_too_large', message];

const tarAttacks: TarAttack[] = [
  { name: 'a .. that climbs out', tar: tarOf([{ name: 'a/../../escape.txt', content: 'x' }]), gzip: true, answer: invalid(/"a\/\.\.\/\.\.\/escape\.txt"/) },
  { name: 'a bare ..', tar: () => rawTar([{ name: '../up.txt', body: 'x' }]), gzip: true, answer: invalid(/"\.\.\/up\.txt"/) },
  { name: 'an absolute path', tar: tarOf([{ name: '/etc/cron.d/evil', content: 'x' }]), gzip: true, answer: invalid(/"\/etc\/cron\.d\/evil"/) },
  { name: 'a PAX path with .. under a harmless ustar name', tar: () => rawTar([{ name: 'harmless.txt', pax: { path: '../../root/.ssh/authorized_keys' }, body: 'k' }]), gzip: true, answer: invalid(/"\.\.\/\.\.\/root\/\.ssh\/authorized_keys"/) },
  { name: 'a PAX absolute path under a harmless ustar name', tar: () => rawTar([{ name: 'harmless.txt', pax: { path: '/etc/passwd' }, body: 'x' }]), gzip: true, answer: invalid(/"\/etc\/passwd"/) },
  { name: 'a symlink to a directory, then a file through it', tar: tarOf([{ name: 'sub/', type: 'directory' }, { name: 'l', type: 'symlink', linkname: 'sub' }, { name: 'l/f', content: 'x' }]), gzip: true, answer: invalid(/entry "l\/f" goes through the symlink "l"/) },
  { name: 'a symlink to ., then a file through it', tar: tarOf([{ name: 'here', type: 'symlink', linkname: '.' }, { name: 'here/f', content: 'x' }]), gzip: true, answer: invalid(/goes through the symlink "here"/) },
  { name: 'a symlink out of the tree', tar: tarOf([{ name: 'd/', type: 'directory' }, { name: 'd/out', type: 'symlink', linkname: '../../../etc' }]), gzip: true, answer: invalid(/"d\/out" is a symlink that escapes the workspace/) },
  { name: 'an absolute symlink in a PAX linkpath', tar: () => rawTar([{ name: 'l', type: '2', linkname: 'harmless', pax: { linkpath: '/var/run/docker.sock' } }]), gzip: true, answer: invalid(/"l" is a symlink to the absolute path "\/var\/run\/docker\.sock"/) },
  { name: 'a chain of symlinks that leaves the tree only together', tar: tarOf([{ name: 'd/', type: 'directory' }, { name: 's', type: 'symlink', linkname: 'd/e' }, { name: 'd/e', type: 'symlink', linkname: '..' }, { name: 't', type: 'symlink', linkname: 's/..' }]), gzip: false, answer: invalid(/resolves outside the workspace|in a loop/) },
  { name: 'a hard link out of the tree', tar: tarOf([{ name: 'h', type: 'link', linkname: '../../etc/shadow' }]), gzip: true, answer: invalid(/"h" is a hard link to "\.\.\/\.\.\/etc\/shadow", which escapes the workspace/) },
  { name: 'a hard link to an absolute path', tar: tarOf([{ name: 'h', type: 'link', linkname: '/etc/shadow' }]), gzip: false, answer: invalid(/escapes the workspace/) },
  { name: 'a hard link to itself', tar: tarOf([{ name: 'a', content: 'x' }, { name: 'a', type: 'link', linkname: 'a' }]), gzip: true, answer: invalid(/"a" is a hard link to itself/) },
  { name: 'a hard link to itself, and nothing before it', tar: tarOf([{ name: 'a', type: 'link', linkname: 'a' }]), gzip: false, answer: invalid(/"a" is a hard link to itself/) },
  { name: 'a hard link to a directory', tar: tarOf([{ name: 'd/', type: 'directory' }, { name: 'h', type: 'link', linkname: 'd' }]), gzip: false, answer: invalid(/not an earlier file/) },
  { name: 'duplicate names: a file over a directory that holds entries', tar: tarOf([{ name: 'd/f', content: 'x' }, { name: 'd', content: 'y' }]), gzip: true, answer: invalid(/"d" is not a directory, but the archive already has entries inside it \("d\/f"\)/) },
  { name: 'duplicate names: an entry inside what the archive made a file', tar: tarOf([{ name: 'f', content: 'x' }, { name: 'f/g', content: 'y' }]), gzip: false, answer: invalid(/"f\/g" is inside "f", which the archive made a file/) },
  { name: 'duplicate names: a symlink over a directory already written into', tar: tarOf([{ name: 'd/f', content: 'x' }, { name: 'd', type: 'symlink', linkname: '.' }]), gzip: false, answer: invalid(/goes through the symlink "d"/) },
  { name: 'duplicate names: a file then a symlink then a file through it', tar: tarOf([{ name: 'x', content: 'a' }, { name: 'x', type: 'symlink', linkname: 'y' }, { name: 'y/', type: 'directory' }, { name: 'x/f', content: 'b' }]), gzip: false, answer: invalid(/goes through the symlink "x"/) },
  { name: 'duplicate names: the same file twice (the later wins, as in GNU tar: accepted)', tar: tarOf([{ name: 'a', content: 'one' }, { name: 'a', content: 'two' }]), gzip: true, answer: ACCEPTED },
  { name: 'a character device', tar: tarOf([{ name: 'null', type: 'character-device', devmajor: 1, devminor: 3 }]), gzip: true, answer: invalid(/"null" is a character device/) },
  { name: 'a block device', tar: tarOf([{ name: 'sda', type: 'block-device', devmajor: 8, devminor: 0 }]), gzip: true, answer: invalid(/"sda" is a block device/) },
  { name: 'a FIFO', tar: tarOf([{ name: 'pipe', type: 'fifo' }]), gzip: true, answer: invalid(/"pipe" is a FIFO/) },
  { name: 'a typeflag no tar defines', tar: () => rawTar([{ name: 'odd', type: 'Q', body: 'x' }]), gzip: false, answer: invalid(/"odd" is of an unknown type/) },
  { name: 'a GNU sparse file of 1 TiB in a few hundred bytes', tar: sparse1TiB, gzip: true, answer: tooLarge(new RegExp(`"huge\\.img" exceeds the workspace cap of ${WORKSPACE_MAX_BYTES} bytes`)) },
  { name: 'a GNU sparse map that does not describe its data', tar: () => rawTar([{ name: 'GNUSparseFile.1/s', pax: { 'GNU.sparse.size': '100', 'GNU.sparse.name': 's', 'GNU.sparse.map': '0,4' }, body: 'x'.repeat(6) }]), gzip: false, answer: invalid(/"s" has a sparse map of 4 bytes of data but stores 6/) },
  { name: 'a GNU sparse segment past the file size', tar: () => rawTar([{ name: 'GNUSparseFile.1/s', pax: { 'GNU.sparse.size': '100', 'GNU.sparse.name': 's', 'GNU.sparse.map': '98,4' }, body: 'xxxx' }]), gzip: false, answer: invalid(/"s" has a sparse segment past its size of 100 bytes/) },
  { name: 'a PAX long name of 4,085 bytes, one past what the sandbox holds', tar: () => rawTar([{ name: 'x', pax: { path: `${'d'.repeat(200)}/`.repeat(20) + 'f'.repeat(65) }, body: 'x' }]), gzip: true, answer: invalid(/has a path of 4085 bytes; the most a sandbox can hold is 4084/) },
  { name: 'a PAX long name of 4,000 bytes (accepted)', tar: () => rawTar([{ name: 'x', pax: { path: `${'d'.repeat(200)}/`.repeat(19) + 'f'.repeat(181) }, body: 'x' }]), gzip: true, answer: ACCEPTED },
  { name: 'a PAX header that claims more than it holds', tar: () => Buffer.concat([rawTar([{ name: 'PaxHeaders/x', type: 'x', size: 4096, body: '30 path=abc\n' }], { end: false }).subarray(0, 1024)]), gzip: false, answer: invalid(/not a valid tar/) },
  { name: 'a gzip bomb: one 256 MiB file of zeros', tar: () => gzipOf(zeroFiles(1, 256 * MiB)), gzip: false, answer: tooLarge(new RegExp(`"z0" exceeds the workspace cap of ${WORKSPACE_MAX_BYTES} bytes`)) },
  { name: 'a gzip bomb: 64 files of 1 MiB of zeros', tar: () => gzipOf(zeroFiles(64, MiB)), gzip: false, answer: tooLarge(new RegExp(`"z16" exceeds the workspace cap of ${WORKSPACE_MAX_BYTES} bytes`)) },
  { name: 'a gzip bomb: 512 MiB of zero padding after a small tar', tar: async () => gzipOf([await makeTar([{ name: 'a', content: 'x' }]), ...repeated(Buffer.alloc(16 * MiB), 32)]), gzip: false, answer: tooLarge(/inflates past \d+ bytes of tar/) },
  { name: `too many entries (${MAX_ENTRIES + 1})`, tar: tarOf(Array.from({ length: MAX_ENTRIES + 1 }, (_, i) => ({ name: `f${i}`, content: '' }))), gzip: true, answer: tooLarge(new RegExp(`"f${MAX_ENTRIES}" exceeds the workspace cap of ${MAX_ENTRIES} entries`)) },
  { name: 'too many entries by the directories one path implies', tar: tarOf([{ name: `${'d/'.repeat(1000)}f`, content: '' }, ...Array.from({ length: MAX_ENTRIES - 1000 }, (_, i) => ({ name: `g${i}`, content: '' }))]), gzip: false, answer: tooLarge(/and the directories it implies exceed the workspace cap|exceeds the workspace cap of \d+ entries/) },
  { name: 'a tar cut in the middle of a file', tar: async () => (await makeTar([{ name: 'a.txt', content: 'x'.repeat(5000) }])).subarray(0, 512 + 1000), gzip: true, answer: invalid(/Unexpected end of data in entry "a\.txt"/) },
  { name: 'a tar cut in the middle of a header', tar: async () => (await makeTar([{ name: 'a.txt', content: 'x' }, { name: 'b.txt', content: 'y' }])).subarray(0, 1024 + 100), gzip: false, answer: invalid(/not a valid tar/) },
  { name: 'a gzip cut in half', tar: async () => { const gz = gzipSync(await makeTar([{ name: 'a.txt', content: 'some text '.repeat(2000) }, { name: 'b.txt', content: 'more' }])); return gz.subarray(0, gz.length >> 1); }, gzip: false, answer: invalid(/not a valid tar or tar\.gz archive/) },
  { name: 'a gzip with a damaged checksum', tar: async () => { const gz = gzipSync(await makeTar([{ name: 'a.txt', content: 'x' }])); gz[gz.length - 6] = gz[gz.length - 6]! ^ 0xff; return gz; }, gzip: false, answer: invalid(/not a valid tar or tar\.gz archive/) },
  { name: 'a header with a bad checksum', tar: async () => { const t = await makeTar([{ name: 'a.txt', content: 'x' }]); t[0] = 0x62; return t; }, gzip: true, answer: invalid(/not a valid tar or tar\.gz archive/) },
  { name: 'text that is not a tar', tar: () => Buffer.from('this is not a tar file, only words\n'.repeat(40)), gzip: true, answer: invalid(/not a valid tar or tar\.gz archive/) },
  { name: 'a zip file', tar: () => Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.alloc(2000, 7)]), gzip: false, answer: invalid(/not a valid tar or tar\.gz archive/) },
  { name: 'a bzip2-compressed tar', tar: async () => compress('bzip2', await makeTar([{ name: 'a', content: 'x' }])), gzip: false, answer: invalid(/the upload is bzip2-compressed; send a plain \.tar or a gzip-compressed \.tar\.gz/) },
  { name: 'an xz-compressed tar', tar: async () => compress('xz', await makeTar([{ name: 'a', content: 'x' }])), gzip: false, answer: invalid(/the upload is xz-compressed/) },
  { name: 'a zstd-compressed tar', tar: async () => compress('zstd', await makeTar([{ name: 'a', content: 'x' }])), gzip: false, answer: invalid(/the upload is zstd-compressed/) },
  { name: 'an lz4-compressed tar', tar: async () => compress('lz4', await makeTar([{ name: 'a', content: 'x' }])), gzip: false, answer: invalid(/the upload is lz4-compressed/) },
];

interface BodyAttack {
  name: string;
  send: (server: ServerProcess) => Promise<Sent | RawAnswer>;
  answer: [number, string, RegExp];
  /** The answer must come this soon after the last byte was written. */
  withinMs?: number;
}

const json = (value: unknown) => JSON.stringify(value);
const tinyTar = () => makeTar([{ name: 'a.txt', content: 'x' }]);
const badRequest = (message: RegExp): [number, string, RegExp] => [400, 'bad_request', message];
const badOptions = (message: RegExp): [number, string, RegExp] => [400, 'invalid_options', message];

/** A multipart body sent in one write on a raw socket, with its Content-Length. */
async function rawForm(server: ServerProcess, body: Buffer): Promise<RawAnswer> {
  const head = requestHead(server, { 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}`, 'Content-Length': body.length });
  return rawExchange(server.url, Buffer.concat([Buffer.from(head), body]));
}

const partHead = (disposition: string, extra = '') => Buffer.from(`--${BOUNDARY}\r\n${disposition}\r\n${extra}\r\n`);

const bodyAttacks: BodyAttack[] = [
  { name: 'malformed JSON', send: (s) => postJson(s, '{"prompt": "fix it"'), answer: badRequest(/body is not valid JSON/) },
  { name: 'JSON that is an array', send: (s) => postJson(s, '["fix it"]'), answer: badRequest(/^body: /) },
  { name: 'JSON null', send: (s) => postJson(s, 'null'), answer: badRequest(/^body: /) },
  { name: 'a prompt that is a number', send: (s) => postJson(s, json({ prompt: 42 })), answer: badRequest(/prompt is required \(a non-empty string\)/) },
  { name: 'a prompt of spaces', send: (s) => postJson(s, json({ prompt: '   \n' })), answer: badRequest(/prompt is required/) },
  { name: 'a prompt with a NUL byte', send: (s) => postJson(s, json({ prompt: 'fix\u0000it' })), answer: badRequest(/prompt contains a NUL byte/) },
  { name: 'options that are a string', send: (s) => postJson(s, json({ prompt: 'x', options: 'fast' })), answer: badOptions(/^options: /) },
  { name: 'an option of the wrong type', send: (s) => postJson(s, json({ prompt: 'x', options: { timeout_s: 'soon' } })), answer: badOptions(/timeout_s/) },
  { name: 'a fractional timeout', send: (s) => postJson(s, json({ prompt: 'x', options: { timeout_s: 1.5 } })), answer: badOptions(/timeout_s/) },
  { name: 'a memory under the floor', send: (s) => postJson(s, json({ prompt: 'x', options: { memory_mb: -1 } })), answer: badOptions(/memory_mb/) },
  { name: 'cpus of 1e308', send: (s) => postJson(s, json({ prompt: 'x', options: { cpus: 1e308 } })), answer: badOptions(/cpus/) },
  { name: 'a workspace_mb past the ceiling', send: (s) => postJson(s, json({ prompt: 'x', options: { workspace_mb: 1e9 } })), answer: badOptions(/workspace_mb/) },
  { name: 'an unknown option', send: (s) => postJson(s, json({ prompt: 'x', options: { colour: 'blue' } })), answer: badOptions(/colour/) },
  { name: 'a __proto__ option', send: (s) => postJson(s, '{"prompt":"x","options":{"__proto__":{"timeout_s":1}}}'), answer: badOptions(/__proto__/) },
  { name: 'an unknown top-level key', send: (s) => postJson(s, json({ prompt: 'x', workspace: 'AAAA' })), answer: badRequest(/workspace/) },
  { name: 'options in a form that are not JSON', send: (s) => postForm(s, [{ name: 'prompt', body: 'x' }, { name: 'options', body: '{timeout_s: 5' }]), answer: badOptions(/options is not valid JSON/) },
  { name: 'an unknown option in a form, before the workspace', send: async (s) => postForm(s, [{ name: 'options', body: json({ colour: 1 }) }, { name: 'prompt', body: 'x' }, { name: 'workspace', filename: 'w.tar', body: await tinyTar() }]), answer: badOptions(/colour/) },
  { name: `a prompt of ${PROMPT_MAX_BYTES + 1} bytes in JSON`, send: (s) => postJson(s, json({ prompt: 'p'.repeat(PROMPT_MAX_BYTES + 1) })), answer: badRequest(new RegExp(`prompt is longer than ${PROMPT_MAX_BYTES} bytes`)) },
  { name: `a prompt of ${PROMPT_MAX_BYTES + 1} bytes in a form`, send: (s) => postForm(s, [{ name: 'prompt', body: 'p'.repeat(PROMPT_MAX_BYTES + 1) }]), answer: badRequest(new RegExp(`prompt is longer than ${PROMPT_MAX_BYTES} bytes`)) },
  { name: 'a multibyte prompt over the cap in bytes, not characters', send: (s) => postJson(s, json({ prompt: 'é'.repeat(PROMPT_MAX_BYTES / 2 + 1) })), answer: badRequest(/prompt is longer than/) },
  { name: 'a JSON body of 1 MiB', send: (s) => postJson(s, json({ prompt: 'p'.repeat(MiB) })), answer: [413, 'payload_too_large', /body is larger than \d+ bytes/] },
  {
    name: 'a multipart Content-Length of 10 GiB, refused before its body is read',
    send: (s) => rawExchange(s.url, requestHead(s, { 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}`, 'Content-Length': 10 * 1024 * MiB })),
    answer: [413, 'payload_too_large', /the body is 10737418240 bytes; a run's form takes at most \d+/],
    withinMs: 5_000,
  },
  {
    name: 'a JSON Content-Length of 10 GiB, refused before its body is read',
    send: (s) => rawExchange(s.url, requestHead(s, { 'Content-Type': 'application/json', 'Content-Length': 10 * 1024 * MiB })),
    answer: [413, 'payload_too_large', /body is larger than/],
    withinMs: 5_000,
  },
  { name: '10,000 form fields of unknown names', send: (s) => postForm(s, Array.from({ length: 10_000 }, (_, i) => ({ name: `f${i}`, body: 'x' }))), answer: badRequest(/unknown form field "f0"/) },
  { name: '10,000 prompt fields', send: (s) => postForm(s, Array.from({ length: 10_000 }, () => ({ name: 'prompt', body: 'x' }))), answer: badRequest(/form field "prompt" is given twice/) },
  { name: '10,000 workspace files', send: (s) => postForm(s, [{ name: 'prompt', body: 'x' }, ...Array.from({ length: 10_000 }, () => ({ name: 'workspace', filename: 'w.tar', body: 'x' }))]), answer: badRequest(/only one workspace file is allowed|not a valid tar/) },
  // 10 MB: past the form's cap, within what the server reads and throws away after a refusal (16 MiB)
  // so that the client, still sending, is not reset before it reads the answer.
  { name: '5,000 workspace files of 2 KiB, past the form cap', send: async (s) => { const tar = await tinyTar(); return postForm(s, [{ name: 'prompt', body: 'x' }, ...Array.from({ length: 5_000 }, () => ({ name: 'workspace', filename: 'w.tar', body: tar }))]); }, answer: [413, 'payload_too_large', /a run's form takes at most/] },
  { name: 'two prompts', send: (s) => postForm(s, [{ name: 'prompt', body: 'fix a' }, { name: 'prompt', body: 'fix b' }]), answer: badRequest(/form field "prompt" is given twice/) },
  { name: 'two options', send: (s) => postForm(s, [{ name: 'options', body: '{}' }, { name: 'options', body: json({ timeout_s: 5 }) }]), answer: badRequest(/form field "options" is given twice/) },
  { name: 'two workspaces', send: async (s) => postForm(s, [{ name: 'prompt', body: 'x' }, { name: 'workspace', filename: 'a.tar', body: await tinyTar() }, { name: 'workspace', filename: 'b.tar', body: await tinyTar() }]), answer: badRequest(/only one workspace file is allowed/) },
  { name: 'the prompt as a file part', send: (s) => postForm(s, [{ name: 'prompt', filename: 'p.txt', body: 'x' }]), answer: badRequest(/prompt was sent as a file/) },
  {
    name: 'a malformed part header with the workspace in the same chunk',
    send: async (s) => rawForm(s, Buffer.concat([partHead('Content-Disposition: form-data; name="prompt"'), Buffer.from('x\r\n'), Buffer.from(`--${BOUNDARY}\r\nContent-Disposition form-data name=workspace filename=w.tar\r\nthis is no header\r\n\r\n`), await tinyTar(), Buffer.from(`\r\n--${BOUNDARY}--\r\n`)])),
    answer: badRequest(/malformed multipart body: Malformed part header/),
    withinMs: 5_000,
  },
  {
    name: 'a part header with a NUL, then the workspace, in one chunk and never closed (it hung, holding its spool file)',
    send: async (s) => rawForm(s, Buffer.concat([partHead('Content-Disposition: form-data; name="options\u0000"'), Buffer.from('{}\r\n'), partHead('Content-Disposition: form-data; name="workspace"; filename="w.tar"'), await tinyTar(), Buffer.from('\r\n')])),
    answer: badRequest(/malformed multipart body: Malformed part header/),
    withinMs: 5_000,
  },
  {
    name: 'a workspace part whose header line has no colon, the tar right after it',
    send: async (s) => rawForm(s, Buffer.concat([partHead('Content-Disposition: form-data; name="workspace"; filename="w.tar"', 'X-Broken\r\n'), await tinyTar(), Buffer.from(`\r\n--${BOUNDARY}--\r\n`)])),
    answer: badRequest(/malformed multipart body: Malformed part header/),
    withinMs: 5_000,
  },
  {
    name: 'a part with no name',
    send: (s) => rawForm(s, Buffer.concat([partHead('Content-Disposition: form-data'), Buffer.from(`x\r\n--${BOUNDARY}--\r\n`)])),
    answer: badRequest(/unknown form field|prompt is required/),
    withinMs: 5_000,
  },
  {
    name: 'a form with no closing boundary',
    send: (s) => rawForm(s, Buffer.concat([partHead('Content-Disposition: form-data; name="prompt"'), Buffer.from('fix it')])),
    answer: badRequest(/malformed multipart body: Unexpected end of form/),
    withinMs: 5_000,
  },
  { name: 'a form with no parts', send: (s) => rawForm(s, Buffer.from(`--${BOUNDARY}--\r\n`)), answer: badRequest(/prompt is required/) },
  { name: 'a multipart type without a boundary', send: (s) => postForm(s, [{ name: 'prompt', body: 'x' }], { 'content-type': 'multipart/form-data' }), answer: badRequest(/malformed multipart request/) },
  { name: 'a content type that is neither', send: (s) => postForm(s, [{ name: 'prompt', body: 'x' }], { 'content-type': 'application/x-www-form-urlencoded' }), answer: [415, 'unsupported_media_type', /send multipart\/form-data/] },
];

describe('hostile uploads and bodies, on the real server process', () => {
  let server: ServerProcess;
  let baseline: ServerState;
  beforeAll(async () => {
    server = await startServerProcess(ATTACK_SERVER_CONFIG);
    // What the first requests open once and keep is part of the baseline, not a leak.
    await upload(server, await tinyTar());
    await upload(server, Buffer.from('not a tar'));
    await postJson(server, '{}');
    baseline = await serverState(server);
  });
  afterAll(async () => {
    await server?.close();
  });

  for (const attack of tarAttacks) {
    const [status, code] = attack.answer;
    it(`${attack.name}${attack.gzip ? ' (plain and gzipped)' : ''}: ${status} ${code}, nothing left`, async () => {
      const tar = await attack.tar();
      for (const bytes of attack.gzip ? [tar, gzipSync(tar)] : [tar]) expectRefusal(await upload(server, bytes), ...attack.answer);
      await expectNothingLeft(server, baseline);
    });
  }

  for (const attack of bodyAttacks) {
    const [status, code] = attack.answer;
    it(`${attack.name}: ${status} ${code}${attack.withinMs ? ` within ${attack.withinMs / 1000} s` : ''}, nothing left`, async () => {
      const answer = await attack.send(server);
      expectRefusal(answer, ...attack.answer);
      if (attack.withinMs) expect('firstByteMs' in answer && answer.firstByteMs).toBeLessThan(attack.withinMs);
      await expectNothingLeft(server, baseline);
    });
  }

  it('logs no error through them all', () => {
    expect(server.logs().filter((l) => l.level >= 50).map((l) => `${l.msg}: ${l.err?.message ?? ''} ${l.path ?? ''}`)).toEqual([]);
  });
});

/** The slow-client server's deadlines: short, so that each test waits them out in seconds. */
const HEADERS_TIMEOUT_S = 2;
const REQUEST_TIMEOUT_S = 5;
/** Node checks its deadlines once a second (connectionsCheckingInterval); a loaded machine adds more. */
const DEADLINE_SLACK_MS = 6_000;
/** Each /healthz asked meanwhile answers within this: a trivial answer, on a loaded 2-core machine. */
const HEALTHZ_BOUND_MS = 5_000;

/** Asks /healthz every 250 ms until stopped; each answer's time, for "others keep being served". */
function keepAsking(server: ServerProcess): { stop(): Promise<number[]> } {
  const times: number[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const started = performance.now();
      const res = await send(server.url, { path: '/healthz' });
      expect(res.status).toBe(200);
      times.push(performance.now() - started);
      await sleep(250);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return times;
    },
  };
}

/** Writes `bytes` to the socket one byte a second until it closes; resolves with the answer the server wrote. */
async function dribble(socket: import('node:net').Socket, bytes: Buffer): Promise<{ text: string; ms: number }> {
  const started = performance.now();
  const received: Buffer[] = [];
  socket.on('data', (c: Buffer) => received.push(c));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  for (let i = 0; i < bytes.length && !socket.destroyed; i++) {
    socket.write(bytes.subarray(i, i + 1));
    if (await Promise.race([sleep(1000).then(() => false), closed.then(() => true)])) break;
  }
  await closed;
  return { text: Buffer.concat(received).toString(), ms: performance.now() - started };
}

function parseRaw(text: string): { status: number; contentType: string | undefined; json: any } {
  const end = text.indexOf('\r\n\r\n');
  const head = text.slice(0, Math.max(end, 0));
  let json: any;
  try {
    json = JSON.parse(text.slice(end + 4));
  } catch {
    json = undefined;
  }
  return { status: Number(head.split(' ')[1]), contentType: /\r\ncontent-type: *([^\r]+)/i.exec(head)?.[1], json };
}

describe('slow and broken clients, on the real server process', () => {
  let server: ServerProcess;
  let baseline: ServerState;
  beforeAll(async () => {
    server = await startServerProcess({ ...ATTACK_SERVER_CONFIG, server: { headers_timeout_s: HEADERS_TIMEOUT_S, request_timeout_s: REQUEST_TIMEOUT_S } });
    await upload(server, await tinyTar());
    baseline = await serverState(server);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('answers headers sent at 1 byte/s with a JSON 408 request_timeout by headers_timeout_s, serving others meanwhile', async () => {
    const asking = keepAsking(server);
    const socket = await rawConnection(server.url, 'GET /v1/runs HTTP/1.1\r\nHost: x\r\n');
    const { text, ms } = await dribble(socket, Buffer.from(`Authorization: Bearer ${server.token}\r\nX-Slow: ${'s'.repeat(60)}\r\n\r\n`));
    const times = await asking.stop();
    const answer = parseRaw(text);
    expect(answer.status, text).toBe(408);
    expect(answer.contentType).toMatch(/^application\/json/);
    expect(answer.json.error).toEqual({ code: 'request_timeout', message: expect.any(String) });
    expect(ms).toBeLessThan(HEADERS_TIMEOUT_S * 1000 + DEADLINE_SLACK_MS);
    expect(times.length).toBeGreaterThan(3);
    expect(Math.max(...times)).toBeLessThan(HEALTHZ_BOUND_MS);
    await expectNothingLeft(server, baseline);
  });

  it('holds 50 slow-loris connections at once and serves others meanwhile; each gets its 408 and is closed', async () => {
    const asking = keepAsking(server);
    const sockets = await Promise.all(Array.from({ length: 50 }, () => rawConnection(server.url, 'POST /v1/runs HTTP/1.1\r\nHost: x\r\nX-A: ')));
    const answers = await Promise.all(sockets.map((socket) => dribble(socket, Buffer.from('a'.repeat(60)))));
    const times = await asking.stop();
    for (const { text, ms } of answers) {
      expect(parseRaw(text).json?.error?.code, text).toBe('request_timeout');
      expect(ms).toBeLessThan(HEADERS_TIMEOUT_S * 1000 + DEADLINE_SLACK_MS);
    }
    expect(Math.max(...times)).toBeLessThan(HEALTHZ_BOUND_MS);
    await expectNothingLeft(server, baseline);
  });

  it('answers a workspace sent at 1 byte/s with a JSON 408 by request_timeout_s, and releases its spool file and fd', async () => {
    const tar = await makeTar([{ name: 'slow.txt', content: 'x'.repeat(4000) }]);
    const body = multipartBody(BOUNDARY, [{ name: 'prompt', body: 'x' }, { name: 'workspace', filename: 'w.tar', body: tar }]);
    const cut = body.indexOf(tar) + 512; // the workspace's first header is in: the spool is open
    const socket = await rawConnection(
      server.url,
      Buffer.concat([Buffer.from(requestHead(server, { 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}`, 'Content-Length': body.length })), body.subarray(0, cut)]),
    );
    const asking = keepAsking(server);
    const answered = dribble(socket, body.subarray(cut));
    // While it is stalled, the spool file is open: what must be released.
    await expect.poll(() => server.spooledUploads(), { timeout: 3_000 }).toHaveLength(1);
    expect((await server.openFds()).some((fd) => fd.includes('/data/uploads/'))).toBe(true);
    const { text, ms } = await answered;
    const times = await asking.stop();
    const answer = parseRaw(text);
    expect(answer.status, text).toBe(408);
    expect(answer.json.error.code).toBe('request_timeout');
    expect(ms).toBeLessThan(REQUEST_TIMEOUT_S * 1000 + DEADLINE_SLACK_MS);
    expect(Math.max(...times)).toBeLessThan(HEALTHZ_BOUND_MS);
    await expectNothingLeft(server, baseline);
  });

  it('answers a JSON body sent at 1 byte/s with a JSON 408 by request_timeout_s', async () => {
    const body = Buffer.from(json({ prompt: 'x'.repeat(100) }));
    const socket = await rawConnection(server.url, requestHead(server, { 'Content-Type': 'application/json', 'Content-Length': body.length }));
    const { text, ms } = await dribble(socket, body);
    expect(parseRaw(text).json?.error?.code, text).toBe('request_timeout');
    expect(ms).toBeLessThan(REQUEST_TIMEOUT_S * 1000 + DEADLINE_SLACK_MS);
    await expectNothingLeft(server, baseline);
  });

  it.each(
    ([
    ['headers past 16 KiB', `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`, 431, 'headers_too_large'],
    ['a request line that is not HTTP', 'HELLO THERE\r\n\r\n', 400, 'bad_request'],
    ['a header without a colon', 'GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n', 400, 'bad_request'],
    ['a broken chunk size', `POST /v1/runs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`, 400, 'bad_request'],
    ['both Content-Length and chunked (request smuggling)', 'POST /v1/runs HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'bad_request'],
    ['two Content-Lengths that differ', 'POST /v1/runs HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 4\r\n\r\n{}', 400, 'bad_request'],
  ] as const).map(([name, request, status, code]) => ({ name, request, status, code })),
  )('answers $name with a JSON $status $code from Node\'s parser, and closes', async ({ request, status, code }) => {
    const answer = await rawExchange(server.url, request);
    expectRefusal(answer, status, code);
    expect(answer.headers.connection).toBe('close');
    await expectNothingLeft(server, baseline);
  });

  it('logs no error through them all', () => {
    expect(server.logs().filter((l) => l.level >= 50).map((l) => `${l.msg}: ${l.err?.message ?? ''} ${l.path ?? ''}`)).toEqual([]);
  });
});
