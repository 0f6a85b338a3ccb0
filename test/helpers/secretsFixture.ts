/**
 * Fake secrets planted in fixtures, one per redaction rule. They are assembled from pieces so that this source
 * file itself does not look like a leaked credential to scanners (or to RepoTune harvesting its own repository).
 */
export const SECRETS_FILE = 'config/settings.ts';

const join = (...parts: string[]) => parts.join('');

export interface PlantedSecret {
  readonly rule: string;
  readonly secret: string;
  readonly line: string;
}

const keyBody = join('MIIEowIBAAKCAQEA7bq', 'x9Lm2Qw8Rt5Yu3Io1Pa6Sd4Fg7Hj0Kl\n', 'Zx8Cv5Bn2Mq9We6Rt3Yu0Io7Pa4Sd1Fg8Hj5Kl2Zx9Cv6Bn3Mq0We7Rt4Yu1');
const privateKey = join('-----BEGIN RSA ', 'PRIVATE KEY-----\n', keyBody, '\n-----END RSA ', 'PRIVATE KEY-----');
const aws = join('AKIA', 'Q3XH7TZ2LMNB5VCD');
const awsSecret = join('wJalrXUtnFEMI/K7MDENG/', 'bPxRfiCYzq8Trw2Lpk');
const github = join('ghp_', 'k3Jd9Xq2Lm8Np4Rt6Vw1Yz5Ab7Cd0Ef2Gh4Ij');
const gitlab = join('glpat-', 'x8Kd2Lq9Mn4Pr7St1Vw3Y');
const slack = join('xoxb-', '2194857302-9385720184-Ab3Cd5Ef7Gh9Ij1Kl');
const stripe = join('sk_live_', '51Hq8Xz2Lm4Np6Rt8Vw0Yz2Ab');
const openai = join('sk-proj-', 'Tq9Xm2Lk8Np4Rz6Vw1Yd5Ab7Cd0Ef');
const jwt = join('eyJhbGciOiJIUzI1NiJ9', '.eyJzdWIiOiIxMjM0NTY3ODkwIn0', '.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U');
const urlPassword = join('s3cr3tP', '4ssw0rd');
const generic = join('Zq8#xL2!', 'mN4$vR7&pT1');

export const PLANTED_SECRETS: readonly PlantedSecret[] = [
  { rule: 'private-key', secret: keyBody.slice(0, 30), line: `const pem = \`${privateKey}\`;` },
  { rule: 'aws-access-key-id', secret: aws, line: `const awsKey = '${aws}';` },
  { rule: 'aws-secret-access-key', secret: awsSecret, line: `aws_secret_access_key = "${awsSecret}"` },
  { rule: 'github-token', secret: github, line: `const gh = "${github}";` },
  { rule: 'gitlab-token', secret: gitlab, line: `const gl = "${gitlab}";` },
  { rule: 'slack-token', secret: slack, line: `const slack = "${slack}";` },
  { rule: 'stripe-key', secret: stripe, line: `const stripe = "${stripe}";` },
  { rule: 'openai-style-key', secret: openai, line: `const openai = "${openai}";` },
  { rule: 'jwt', secret: jwt, line: `const session = "${jwt}";` },
  { rule: 'url-password', secret: urlPassword, line: `const db = "postgres://admin:${urlPassword}@db.internal:5432/app";` },
  { rule: 'generic-secret-assignment', secret: generic, line: `const password = "${generic}";` },
];
