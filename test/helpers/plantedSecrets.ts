/**
 * A planted-secret corpus: many kinds of credentials in the file formats they hide in (.env, ini, YAML, JSON,
 * Jupyter notebooks, PEM files, code). Values are generated from a seeded PRNG at run time, so this source holds
 * no credential-shaped literal (scanners and RepoTune harvesting its own repository stay quiet).
 */
import { mulberry32 } from '../../server/src/examples/prng';

export interface Planted {
  readonly kind: string;
  /** The secret; none of it (nor its middle 16 characters) may reach any output. */
  readonly value: string;
}

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const DIGITS = '0123456789';
const ALNUM = UPPER + LOWER + DIGITS;
const BASE64 = `${ALNUM}+/`;
/** Secrets at least this long are also checked for a leaked middle part (a partial redaction). */
const MIN_FRAGMENT_CHECK = 24;

export function plantedSecretCorpus(seed = 11): { files: Record<string, string>; secrets: Planted[] } {
  const rng = mulberry32(seed);
  const rand = (n: number, alphabet = ALNUM) => Array.from({ length: n }, () => alphabet[Math.floor(rng() * alphabet.length)]).join('');
  const secrets: Planted[] = [];
  const plant = (kind: string, value: string) => (secrets.push({ kind, value }), value);
  const pem = (label: string, kind: string) => {
    const body = Array.from({ length: 8 }, () => rand(64, BASE64)).join('\n');
    plant(kind, body.slice(0, 64));
    return [`-----BEGIN ${label}-----`, body, `-----END ${label}-----`].join('\n');
  };
  const b64url = (s: string) => Buffer.from(s).toString('base64url');
  const jwt = plant('jwt', `${b64url('{"alg":"HS256","typ":"JWT"}')}.${b64url(`{"sub":"${rand(10)}","name":"svc"}`)}.${rand(43, `${ALNUM}-_`)}`);
  const gcpKey = pem('PRIVATE KEY', 'gcp-service-account-key');

  const files: Record<string, string> = {
    '.env': [
      '# local settings',
      `DATABASE_PASSWORD=${plant('dotenv-password', rand(18))}`,
      `STRIPE_SECRET_KEY=${plant('stripe', `sk_live_${rand(32)}`)}`,
      `SESSION_SECRET=${plant('dotenv-secret', rand(40))}`,
      `export API_TOKEN=${plant('dotenv-token', rand(32))}`,
      'DEBUG=true',
    ].join('\n'),
    '.aws/credentials': [
      '[default]',
      `aws_access_key_id = ${plant('aws-access-key-id', `AKIA${rand(16, UPPER + DIGITS)}`)}`,
      `aws_secret_access_key = ${plant('aws-secret-access-key', rand(40, BASE64))}`,
    ].join('\n'),
    'deploy/service-account.json': JSON.stringify(
      {
        type: 'service_account',
        project_id: 'demo-project',
        private_key_id: rand(40, '0123456789abcdef'),
        private_key: `${gcpKey}\n`,
        client_email: 'svc@demo-project.iam.gserviceaccount.com',
      },
      null,
      2,
    ),
    'config/app.yaml': [
      'database:',
      '  host: db.internal',
      `  password: ${plant('yaml-password', `${rand(14)}9`)}`,
      `  url: postgres://app:${plant('postgres-url', rand(16))}@db.internal:5432/app`,
      'services:',
      `  api_key: "${plant('yaml-api-key', rand(32))}"`,
      `  slack_webhook: https://hooks.slack.com/services/T${rand(8, UPPER + DIGITS)}/B${rand(8, UPPER + DIGITS)}/${plant('slack-webhook', rand(24))}`,
    ].join('\n'),
    'config/settings.json': JSON.stringify(
      {
        apiKey: plant('json-api-key', rand(40)),
        clientSecret: plant('json-client-secret', rand(32)),
        mongo: `mongodb+srv://admin:${plant('mongodb-url', rand(20))}@cluster0.mongodb.net/db`,
        redis: `redis://:${plant('redis-url', rand(20))}@cache:6379/0`,
      },
      null,
      2,
    ),
    'notebooks/explore.ipynb': JSON.stringify(
      {
        cells: [
          {
            cell_type: 'code',
            source: ['import openai\n', `openai.api_key = "${plant('notebook-openai-key', `sk-proj-${rand(48, `${ALNUM}_-`)}`)}"\n`],
            outputs: [{ output_type: 'stream', name: 'stdout', text: [`token ${plant('notebook-output-github', `ghp_${rand(36)}`)}\n`] }],
          },
        ],
        metadata: {},
        nbformat: 4,
        nbformat_minor: 5,
      },
      null,
      1,
    ),
    'keys/id_rsa': pem('RSA PRIVATE KEY', 'rsa-private-key'),
    'keys/deploy_ed25519': pem('OPENSSH PRIVATE KEY', 'openssh-private-key'),
    'keys/server.pem': pem('EC PRIVATE KEY', 'ec-private-key'),
    'src/clients.ts': [
      `const github = "${plant('github-token', `ghp_${rand(36)}`)}";`,
      `const githubPat = "${plant('github-fine-grained', `github_pat_${rand(22)}_${rand(59)}`)}";`,
      `const gitlab = "${plant('gitlab', `glpat-${rand(20)}`)}";`,
      `const slack = "${plant('slack-bot', `xoxb-${rand(11, DIGITS)}-${rand(12, DIGITS)}-${rand(24)}`)}";`,
      `const openai = "${plant('openai-legacy', `sk-${rand(48)}`)}";`,
      `const anthropic = "${plant('anthropic', `sk-ant-api03-${rand(93, `${ALNUM}_-`)}AA`)}";`,
      `const hf = "${plant('huggingface', `hf_${rand(34)}`)}";`,
      `const npmToken = "${plant('npm', `npm_${rand(36)}`)}";`,
      `const sendgrid = "${plant('sendgrid', `SG.${rand(22)}.${rand(43)}`)}";`,
      `const google = "${plant('google-api-key', `AIza${rand(35)}`)}";`,
      `const session = "${jwt}";`,
      `const repo = "https://deploy:${plant('basic-auth-url', rand(16))}@git.example.com/team/app.git";`,
      `const mysql = "mysql://root:${plant('mysql-url', rand(16))}@localhost:3306/shop";`,
      `const azure = "DefaultEndpointsProtocol=https;AccountName=shop;AccountKey=${plant('azure-storage', `${rand(86, BASE64)}==`)};EndpointSuffix=core.windows.net";`,
      `const unnamed = ["${plant('unnamed-high-entropy', rand(40, BASE64))}"];`,
      'export const ok = true;',
    ].join('\n'),
    'scripts/settings.py': [
      `PASSWORD = "${plant('python-password', `${rand(20)}!7`)}"`,
      `db_url = f"postgresql://svc:${plant('python-postgres-url', rand(18))}@{host}/main"`,
    ].join('\n'),
  };
  return { files, secrets };
}

/** The planted values (or their middles) found in `text`; empty means no leak. */
export function leakedSecrets(text: string, secrets: readonly Planted[]): string[] {
  return secrets
    .filter((s) => {
      const mid = Math.floor(s.value.length / 2);
      return text.includes(s.value) || (s.value.length >= MIN_FRAGMENT_CHECK && text.includes(s.value.slice(mid - 8, mid + 8)));
    })
    .map((s) => s.kind);
}
