// The fake Hugging Face hub of the e2e "Choose model" check (the VS Code server gets it as HF_ENDPOINT): the shared
// test/helpers/fakeHub.mjs serving `hub.modelDir` (set by the check: the demo model the first fine-tune made) under
// any repository id. The first download of a .safetensors file is cut off halfway, once, so the client must resume.
import { startFakeHub as startSharedFakeHub } from '../helpers/fakeHub.mjs';

export function startFakeHub() {
  return startSharedFakeHub({ cutNextDownload: 'half' });
}
