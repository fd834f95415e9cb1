import { createReadStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { diffFinalTree, indexBaseline } from '../tree-diff/index.js';
import { PATCH_BYTES_PER_TREE_BYTE } from './collect-artifacts.js';
import { exists, type RunArtifacts } from './run-artifacts.js';
import type { Run } from './run.js';

/** A follow-up's diff against its conversation's first upload cannot be made; `code` says why. */
export class RootDiffError extends Error {
  constructor(
    readonly code: 'artifact_expired' | 'not_kept',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Follow-ups' cumulative diffs (`?base=root`): the follow-up's final workspace against the upload
 * of the conversation's first run, which that run keeps while it is resumable. Made on the server
 * from the two stored tars when first asked for, then kept with the follow-up's artifacts; two
 * requests at once make it once.
 */
export class RootDiffs {
  private readonly making = new Map<string, Promise<void>>();

  constructor(private readonly artifacts: Pick<RunArtifacts, 'files' | 'open'>) {}

  /** `root` is `run.rootId`'s record, `rootHadInput` whether that run was given a workspace. */
  async open(run: Run, root: Run | undefined, rootHadInput: boolean): Promise<Readable> {
    const files = this.artifacts.files(run.id);
    if (!(await exists(files.rootDiff))) {
      let made = this.making.get(run.id);
      if (!made) {
        made = this.make(run, root, rootHadInput).finally(() => this.making.delete(run.id));
        this.making.set(run.id, made);
      }
      await made;
    }
    return createReadStream(files.rootDiff);
  }

  private async make(run: Run, root: Run | undefined, rootHadInput: boolean): Promise<void> {
    const rootFiles = root && this.artifacts.files(root.id);
    const rootInput = rootFiles?.inputTar;
    if (!root || root.artifactsExpired || (rootHadInput && !(await exists(rootInput!)))) {
      throw new RootDiffError('artifact_expired', `the conversation's first run ${run.rootId} no longer has its upload: retention has removed it`);
    }
    const files = this.artifacts.files(run.id);
    const baselineDir = path.join(files.dir, 'root-baseline');
    const baseline = await indexBaseline(rootHadInput ? rootInput! : null, baselineDir, { scanFile: rootFiles?.inputScan });
    try {
      // The final tree is no bigger than its tar.
      const treeBytes = (await stat(files.workspace)).size;
      const diff = await diffFinalTree(baseline, await this.artifacts.open(run.id, 'workspace', 'tar'), {
        patchPath: files.rootDiff,
        maxBytes: treeBytes,
        maxPatchBytes: PATCH_BYTES_PER_TREE_BYTE * treeBytes + 1024 * 1024,
        stripPrefix: '',
      });
      if (!diff.patch.written) throw new RootDiffError('not_kept', `run ${run.id}'s diff against the first upload passes ${PATCH_BYTES_PER_TREE_BYTE} times its workspace's size and was not kept`);
    } finally {
      await baseline.dispose();
      await rm(baselineDir, { recursive: true, force: true });
    }
  }
}
