/** Types of fakeHub.mjs (a fake Hugging Face hub on 127.0.0.1 for the unit and e2e tests). */
export declare const FAKE_HUB_COMMIT: string;

export interface FakeHubOptions {
  /** Files served under every known repository (or `modelDir`'s files, read on each request). */
  files?: Record<string, Buffer>;
  modelDir?: string;
  /** Repositories that exist; omitted = any id. */
  repoIds?: string[];
  /** Names listed in the revision info but not served (pickle weights the client must skip). */
  extraSiblings?: string[];
  /** Cut the next .safetensors GET off after this many bytes (or half of it), once. */
  cutNextDownload?: number | 'half';
  commit?: string;
}

export interface FakeHub {
  url: string;
  files?: Record<string, Buffer>;
  modelDir?: string;
  cutNextDownload?: number | 'half';
  /** Serve constant bytes instead of the real content (a checksum mismatch). */
  corrupt: boolean;
  /** "<file> bytes=N-" of each Range request. */
  rangeRequests: string[];
  /** File of each GET. */
  gets: string[];
  close(): Promise<void>;
}

export declare function startFakeHub(options?: FakeHubOptions): Promise<FakeHub>;
