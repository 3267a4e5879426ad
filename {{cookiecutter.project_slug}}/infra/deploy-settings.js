'use strict';

// The parts of serverless.yml that depend on what the deploying shell (or CI) gave, which YAML alone cannot say:
// the network, the IAM statements scoped to the database secrets, and the load limits. serverless.yml reads every
// input from the environment in one place (custom.deploy; an empty value means "not given"); Serverless calls the
// functions below while it resolves ${file(./deploy-settings.js):name}. A setting given by half or in the wrong
// form stops the command with a message naming the variable, before anything is built.
// The HTTP API's CORS{% if cookiecutter.api_auth == "jwt" %} and its JWT authorizer are{% else %} is{% endif %} built here too, from the origins{% if cookiecutter.api_auth == "jwt" %}, issuer and audiences{% endif %} given.
const fs = require('fs');
const path = require('path');

// The values the app's settings read as true (DB_SSL_TRUST_ANY_SERVER), and the Makefile's check-ca too.
const TRUE_VALUES = new Set(['1', 'true', 'yes', 'on']);
// A complete ARN, with the six random characters Secrets Manager appends to the name: an IAM statement on a partial
// ARN matches no secret.
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):\d{12}:secret:\S+-[A-Za-z0-9]{6}$/;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;
{%- if cookiecutter.db_credentials == "iam" and cookiecutter.database != "aurora" %}
// The resource ids RDS gives an Aurora cluster and an RDS Proxy: the rds-db:connect ARN names one of them, and a
// statement on any other form (a cluster's name, its ARN) matches no login.
const DATABASE_RESOURCE_ID = /^(cluster-[A-Z0-9]+|prx-[a-z0-9]+)$/;
// A MySQL user name IAM can match as written: no wildcard (* or ?) may widen the statement to other users, and no
// ${ may turn into a CloudFormation substitution.
const DATABASE_USER = /^[A-Za-z0-9_.-]{1,32}$/;
{%- endif %}
// The functions' roles of infra/ci-access.yml, by the name of the variable that gives each.
const ROLE_VARIABLES = { api: 'AWS_API_ROLE_ARN', migration: 'AWS_MIGRATION_ROLE_ARN' };
{%- if cookiecutter.background_jobs == "yes" %}
// The worker's role and the schedules' are ci-access.yml's too whenever the functions' are.
const JOB_ROLE_VARIABLES = { worker: 'AWS_WORKER_ROLE_ARN', scheduler: 'AWS_SCHEDULER_ROLE_ARN' };
// What infra/schedules.json holds for each schedule (scripts/jobs.py writes it, and checks the expression and the
// time zone when the job's module is imported): a job name that can name the schedule (EventBridge Scheduler allows
// letters, digits, '-', '_' and '.', up to 64), a cron() or rate() expression and a time zone.
const SCHEDULE_NAME = /^[0-9A-Za-z_.-]{1,64}$/;
const SCHEDULE_EXPRESSION = /^(cron|rate)\(.+\)$/;
const SCHEDULES_FILE = 'schedules.json';
{%- endif %}
{%- if cookiecutter.database != "aurora" %}
const VPC_IDS = {
  VPC_SUBNET_IDS: { prefix: 'subnet', what: 'subnet' },
  VPC_SECURITY_GROUP_IDS: { prefix: 'sg', what: 'security group' },
};
{%- endif %}
const LIMITS = {
  reservedConcurrency: { variable: 'API_RESERVED_CONCURRENCY', wholeNumber: true },
  throttleRate: { variable: 'API_THROTTLE_RATE', wholeNumber: false },
  throttleBurst: { variable: 'API_THROTTLE_BURST', wholeNumber: true },
  alarmApiErrors: { variable: 'ALARM_API_ERRORS', wholeNumber: true },
  alarmApiThrottles: { variable: 'ALARM_API_THROTTLES', wholeNumber: true },
  alarmApiDurationP99: { variable: 'ALARM_API_DURATION_P99_MS', wholeNumber: true },
  alarmHttpApi5xx: { variable: 'ALARM_HTTP_API_5XX', wholeNumber: true },
  alarmDatabaseUnavailable: { variable: 'ALARM_DATABASE_UNAVAILABLE', wholeNumber: true },
{%- if cookiecutter.background_jobs == "yes" %}
  workerReservedConcurrency: { variable: 'WORKER_RESERVED_CONCURRENCY', wholeNumber: true },
  alarmJobQueueAge: { variable: 'ALARM_JOB_QUEUE_AGE_SECONDS', wholeNumber: true },
{%- endif %}
};
// Not an address a person reads: SNS would send the confirmation nowhere and the alarms would reach nobody.
const EMAIL = /^[^@\s,]+@[^@\s,]+\.[^@\s,]+$/;
// What a browser sends as Origin: scheme://host[:port], lowercase, nothing after it. API Gateway compares origins as
// text, so a path, a trailing slash or capitals would match no browser's request.
const ORIGIN = /^https?:\/\/[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?$/;

const given = (value) => (value == null ? '' : String(value).trim());
// A comma-separated variable's items, trimmed, empty ones dropped.
const commaList = (value) =>
  given(value)
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);

async function deployInputs(resolveConfigurationProperty) {
  return (await resolveConfigurationProperty(['custom', 'deploy'])) || {};
}

// Serverless prints a failed resolver's stack; the message alone is the whole story.
function refusal(message) {
  const error = new Error(message);
  error.stack = message;
  return error;
}

// Printed on stderr, so that `sls print` output stays YAML.
function report(line) {
  process.stderr.write(`${line}\n`);
}

{%- if cookiecutter.database != "aurora" %}

async function idList(variable, value, resolveVariable) {
  let ids = value;
  if (value.startsWith('ssm:')) {
    // A StringList (or comma-separated String) parameter, per stage or account, read with the deploying credentials.
    const parameter = value.slice('ssm:'.length);
    const resolved = await resolveVariable(`ssm:${parameter}, null`);
    if (resolved == null) throw refusal(`${variable}: SSM parameter ${parameter} was not found`);
    ids = Array.isArray(resolved) ? resolved.join(',') : String(resolved);
  }
  const list = ids
    .split(',')
    .map((id) => id.trim())
    .filter(Boolean);
  const { prefix, what } = VPC_IDS[variable];
  const wrong = list.filter((id) => !new RegExp(`^${prefix}-[0-9a-f]+$`).test(id));
  if (!list.length || wrong.length) {
    throw refusal(
      `${variable} must list ${what} IDs (${prefix}-...), comma-separated, or name an SSM parameter ` +
        `(ssm:/name) holding them; got ${JSON.stringify(list.length ? wrong.join(',') : value)}`
    );
  }
  return list;
}
{%- endif %}
{%- if cookiecutter.database != "aurora" %}

// provider.vpc: both lists, or neither (the functions then run outside any VPC).
module.exports.vpc = async ({ resolveConfigurationProperty, resolveVariable }) => {
  const inputs = await deployInputs(resolveConfigurationProperty);
  const values = {
    VPC_SUBNET_IDS: given(inputs.vpcSubnetIds),
    VPC_SECURITY_GROUP_IDS: given(inputs.vpcSecurityGroupIds),
  };
  const missing = Object.keys(values).filter((name) => !values[name]);
  if (missing.length === 2) {
    report(
      'Network: no VPC (VPC_SUBNET_IDS and VPC_SECURITY_GROUP_IDS are empty): the function reaches only public ' +
        'endpoints'
    );
    return null;
  }
  if (missing.length === 1) {
    const [empty] = missing;
    const set = Object.keys(values).find((name) => name !== empty);
    throw refusal(
      `${set} is set but ${empty} is empty: set both to run the functions in a VPC, or neither to run them ` +
        'without one'
    );
  }
  const subnetIds = await idList('VPC_SUBNET_IDS', values.VPC_SUBNET_IDS, resolveVariable);
  const securityGroupIds = await idList('VPC_SECURITY_GROUP_IDS', values.VPC_SECURITY_GROUP_IDS, resolveVariable);
  report(`Network: VPC with subnets ${subnetIds.join(', ')} and security groups ${securityGroupIds.join(', ')}`);
  return { subnetIds, securityGroupIds };
};
{%- endif %}
{%- if cookiecutter.database != "aurora" %}

function checkedSecretArn(variable, value) {
  const match = SECRET_ARN.exec(value);
  if (!match) {
    throw refusal(
      `${variable} must be the secret's complete ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX, ` +
        `as \`aws secretsmanager describe-secret\` prints it); got ${JSON.stringify(value)}`
    );
  }
  return { arn: value, region: match[1] };
}

// Read exactly this secret; decrypt with the given key only on behalf of Secrets Manager, for this secret.
function secretStatements(variable, value, kmsKeyArn) {
  const secret = checkedSecretArn(variable, value);
  const statements = [{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: secret.arn }];
  if (kmsKeyArn) {
    statements.push({
      Effect: 'Allow',
      Action: 'kms:Decrypt',
      Resource: kmsKeyArn,
      Condition: {
        StringEquals: {
          'kms:ViaService': { 'Fn::Sub': `secretsmanager.${secret.region}.\${AWS::URLSuffix}` },
          'kms:EncryptionContext:SecretARN': secret.arn,
        },
      },
    });
  }
  return statements;
}

async function kmsKeyArn(resolveConfigurationProperty) {
  const value = given((await deployInputs(resolveConfigurationProperty)).secretKmsKeyArn);
  if (value && !KMS_KEY_ARN.test(value)) {
    throw refusal(
      'DB_SECRET_KMS_KEY_ARN must be the key ARN of the secret\'s customer managed key ' +
        `(arn:aws:kms:REGION:ACCOUNT:key/ID; not an alias); got ${JSON.stringify(value)}`
    );
  }
  return value;
}
{%- endif %}

// The roles given by ARN ({ api, migration }), or null when this stack is to create its own. Both or neither
{%- if cookiecutter.use_github_actions == "yes" %};
// in GitHub Actions both (ci-access.yml's): the service role CI deploys through cannot create roles.
{%- else %}.
{%- endif %}
async function givenRoleArns(resolveConfigurationProperty) {
  const inputs = await deployInputs(resolveConfigurationProperty);
  const arns = { api: given(inputs.apiRoleArn), migration: given(inputs.migrationRoleArn) };
  const missing = Object.keys(arns)
    .filter((name) => !arns[name])
    .map((name) => ROLE_VARIABLES[name]);
  if (missing.length === 2 && given(inputs.githubActions).toLowerCase() !== 'true') return null;
  if (missing.length === 2) {
    throw refusal(
      'AWS_API_ROLE_ARN and AWS_MIGRATION_ROLE_ARN are empty: CI deploys through a CloudFormation service role that ' +
        'cannot create roles, so the functions need the roles of the infra/ci-access.yml stack (its outputs are the ' +
        "secrets of the stage's GitHub environment; README: Deploy from GitHub)"
    );
  }
  if (missing.length === 1) {
    const set = Object.values(ROLE_VARIABLES).find((name) => name !== missing[0]);
    throw refusal(
      `${set} is set but ${missing[0]} is empty: set both (outputs of the infra/ci-access.yml stack) to use that ` +
        "stack's roles, or neither to have this stack create them"
    );
  }
  for (const [name, arn] of Object.entries(arns)) {
    if (!ROLE_ARN.test(arn)) {
      const variable = ROLE_VARIABLES[name];
      throw refusal(`${variable} must be a role's ARN (arn:aws:iam::ACCOUNT:role/NAME); got ${JSON.stringify(arn)}`);
    }
  }
  return arns;
}
{%- if cookiecutter.background_jobs == "yes" %}

// The worker's and the schedules' roles by ARN ({ worker, scheduler }) exactly when the functions' are given (the
// infra/ci-access.yml stack creates all four), or null when this stack is to create its own.
async function givenJobRoleArns(resolveConfigurationProperty) {
  const inputs = await deployInputs(resolveConfigurationProperty);
  const arns = { worker: given(inputs.workerRoleArn), scheduler: given(inputs.schedulerRoleArn) };
  const named = (present) =>
    Object.keys(arns)
      .filter((name) => Boolean(arns[name]) === present)
      .map((name) => JOB_ROLE_VARIABLES[name]);
  const allOrNone =
    "set all four (outputs of the infra/ci-access.yml stack) to use that stack's roles, or none to have this stack " +
    'create them';
  const listed = (names) => `${names.join(' and ')} ${names.length === 1 ? 'is' : 'are'}`;
  if (!(await givenRoleArns(resolveConfigurationProperty))) {
    if (!named(true).length) return null;
    throw refusal(`${listed(named(true))} set without AWS_API_ROLE_ARN and AWS_MIGRATION_ROLE_ARN: ${allOrNone}`);
  }
  if (named(false).length) {
    const empty = listed(named(false));
    throw refusal(`${empty} empty while AWS_API_ROLE_ARN and AWS_MIGRATION_ROLE_ARN are set: ${allOrNone}`);
  }
  const wrong = Object.keys(arns).find((name) => !ROLE_ARN.test(arns[name]));
  if (wrong) {
    const [variable, arn] = [JOB_ROLE_VARIABLES[wrong], arns[wrong]];
    throw refusal(`${variable} must be a role's ARN (arn:aws:iam::ACCOUNT:role/NAME); got ${JSON.stringify(arn)}`);
  }
  return arns;
}
{%- endif %}

{%- if cookiecutter.database == "aurora" %}

// An output of the stage's database stack (infra/database.yml), as CloudFormation imports it when it deploys.
async function databaseExport(resolveConfigurationProperty, name) {
  const stack = await resolveConfigurationProperty(['custom', 'databaseStack']);
  return { 'Fn::ImportValue': `${stack}-${name}` };
}

// What the API function may do besides writing its logs (the framework adds those), when the framework creates its
// role: connect as the database stack's app user to its cluster or proxy, with nothing from Secrets Manager or KMS.
async function apiStatements(resolveConfigurationProperty) {
  return [
    {
      Effect: 'Allow',
      Action: 'rds-db:connect',
      Resource: {
        'Fn::Sub': [
          'arn:${AWS::Partition}:rds-db:${AWS::Region}:${AWS::AccountId}:dbuser:${ResourceId}/${User}',
          {
            ResourceId: await databaseExport(resolveConfigurationProperty, 'ConnectResourceId'),
            User: await databaseExport(resolveConfigurationProperty, 'AppUser'),
          },
        ],
      },
    },
  ];
}

// provider.iam.role: ci-access.yml's API role by ARN, or the statements of the role the framework creates.
module.exports.apiRole = async ({ resolveConfigurationProperty }) => {
  const stack = await resolveConfigurationProperty(['custom', 'databaseStack']);
  report(
    `Database: the stack ${stack} (make database-<stage>); the functions run in its subnets, the API signs IAM ` +
      "tokens for its app user, the migration reads the cluster's master secret"
  );
  const arns = await givenRoleArns(resolveConfigurationProperty);
  return arns ? arns.api : { statements: await apiStatements(resolveConfigurationProperty) };
};
{%- elif cookiecutter.db_credentials == "iam" %}

// The one IAM database login of the API function: as DB_USER (its environment's, so the role and the function always
// agree) on the cluster or proxy DB_RESOURCE_ID. Checked whichever role the function runs with, so that a wrong id
// stops the deploy here instead of every login after it.
async function databaseLogin(resolveConfigurationProperty) {
  const resourceId = given((await deployInputs(resolveConfigurationProperty)).databaseResourceId);
  if (!DATABASE_RESOURCE_ID.test(resourceId)) {
    throw refusal(
      "DB_RESOURCE_ID must be the resource id of the Aurora cluster (cluster- and uppercase letters or digits, as " +
        "`aws rds describe-db-clusters --query 'DBClusters[].DbClusterResourceId'` prints it) or of its RDS Proxy " +
        `(prx- and lowercase letters or digits); got ${JSON.stringify(resourceId)}`
    );
  }
  const user = given(await resolveConfigurationProperty(['provider', 'environment', 'DB_USER']));
  if (!DATABASE_USER.test(user)) {
    throw refusal(
      'DB_USER must be one MySQL user name of up to 32 letters, digits, underscores, dots or hyphens (the IAM ' +
        `statement names it exactly, without wildcards); got ${JSON.stringify(user)}`
    );
  }
  return { resourceId, user };
}

// What the API function may do besides writing its logs (the framework adds those), when the framework creates its
// role: connect to the database as its one user, with nothing from Secrets Manager or KMS.
function apiStatements({ resourceId, user }) {
  return [
    {
      Effect: 'Allow',
      Action: 'rds-db:connect',
      Resource: {
        'Fn::Sub': `arn:\${AWS::Partition}:rds-db:\${AWS::Region}:\${AWS::AccountId}:dbuser:${resourceId}/${user}`,
      },
    },
  ];
}

// provider.iam.role: ci-access.yml's API role by ARN, or the statements of the role the framework creates.
module.exports.apiRole = async ({ resolveConfigurationProperty }) => {
  const login = await databaseLogin(resolveConfigurationProperty);
  report(`Database login: the API function signs IAM tokens for user ${login.user} on ${login.resourceId}`);
  const arns = await givenRoleArns(resolveConfigurationProperty);
  return arns ? arns.api : { statements: apiStatements(login) };
};
{%- else %}

// What the API function may do besides writing its logs (the framework adds those), when the framework creates its
// role. Derived from the secret its environment names, so the role and the function always agree; none without one.
async function apiStatements(resolveConfigurationProperty) {
  const secretArn = given(await resolveConfigurationProperty(['provider', 'environment', 'DB_SECRET_ARN']));
  if (!secretArn) return [];
  return secretStatements('DB_SECRET_ARN', secretArn, await kmsKeyArn(resolveConfigurationProperty));
}

// provider.iam.role: ci-access.yml's API role by ARN, or the statements of the role the framework creates.
module.exports.apiRole = async ({ resolveConfigurationProperty }) => {
  const arns = await givenRoleArns(resolveConfigurationProperty);
  return arns ? arns.api : { statements: await apiStatements(resolveConfigurationProperty) };
};
{%- endif %}

{%- if cookiecutter.background_jobs == "yes" %}

// The API function may send to the job queue, and do nothing else in SQS: receiving and deleting are the worker's.
const sendToJobQueue = { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': ['JobQueue', 'Arn'] } };
const apiRoleWithoutJobs = module.exports.apiRole;
module.exports.apiRole = async (context) => {
  const role = await apiRoleWithoutJobs(context);
  return typeof role === 'string' ? role : { statements: [...role.statements, sendToJobQueue] };
};

// functions.worker.role: ci-access.yml's worker role by ARN, or WorkerRole (roleResources).
module.exports.workerRole = async ({ resolveConfigurationProperty }) => {
  const arns = await givenJobRoleArns(resolveConfigurationProperty);
  return arns ? arns.worker : 'WorkerRole';
};

// WorkerRole's statements: its own log group, its traces, the job queue's messages, the dead-letter queue for the
// messages it refuses, and the API's database access (the same login or secret: it runs the same app code).
module.exports.workerStatements = async ({ resolveConfigurationProperty }) => {
{%- if cookiecutter.db_credentials == "iam" and cookiecutter.database != "aurora" %}
  const database = apiStatements(await databaseLogin(resolveConfigurationProperty));
{%- else %}
  const database = await apiStatements(resolveConfigurationProperty);
{%- endif %}
  return [
    {
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: { 'Fn::GetAtt': ['WorkerLogGroup', 'Arn'] },
    },
    { Effect: 'Allow', Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], Resource: '*' },
    {
      Effect: 'Allow',
      Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes'],
      Resource: { 'Fn::GetAtt': ['JobQueue', 'Arn'] },
    },
    { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': ['JobDeadLetterQueue', 'Arn'] } },
    ...database,
  ];
};

// WorkerRole's managed policies: the network interfaces of a function in a VPC, as MigrationRole's.
module.exports.workerManagedPolicies = (context) => module.exports.migrationManagedPolicies(context);

module.exports.workerReservedConcurrency = async (context) => {
  const value = await apiLimit('workerReservedConcurrency', context);
  if (value < 2) {
    throw refusal(
      'WORKER_RESERVED_CONCURRENCY must be at least 2, the fewest concurrent batches an SQS event source mapping ' +
        `allows (its maximum concurrency is the same number); got ${value}`
    );
  }
  return value;
};
module.exports.alarmJobQueueAge = (context) => apiLimit('alarmJobQueueAge', context);

// A schedule's logical id: its job name's letters and digits, each part capitalised ("challenge.daily-report" ->
// ScheduleChallengeDailyReport).
function scheduleLogicalId(job) {
  const words = job.split(/[^A-Za-z0-9]+/).filter(Boolean);
  return `Schedule${words.map((word) => word[0].toUpperCase() + word.slice(1)).join('')}`;
}

// infra/schedules.json, checked: `make package` writes it from the jobs' declarations (scripts/jobs.py) before
// Serverless reads this file, so a missing file means the command did not go through the Makefile.
function readSchedules() {
  const file = path.join(__dirname, SCHEDULES_FILE);
  if (!fs.existsSync(file)) {
    throw refusal(
      `infra/${SCHEDULES_FILE} is missing: package and deploy through the Makefile (make -C infra package), which ` +
        'writes it from the jobs of app/module/*/jobs.py (scripts/jobs.py --schedules-json)'
    );
  }
  let entries;
  try {
    entries = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw refusal(`infra/${SCHEDULES_FILE} is not JSON (${error.message}): run make -C infra schedules again`);
  }
  const wrong = (Array.isArray(entries) ? entries : [entries]).filter(
    (entry) =>
      !entry ||
      !SCHEDULE_NAME.test(entry.job) ||
      !SCHEDULE_EXPRESSION.test(entry.expression) ||
      typeof entry.timezone !== 'string' ||
      !entry.timezone
  );
  if (!Array.isArray(entries) || wrong.length) {
    throw refusal(
      `infra/${SCHEDULES_FILE} must list {"job", "expression", "timezone"} objects (a job name of letters, digits, ` +
        `'-', '_' or '.'; cron(...) or rate(...); an IANA time zone); got ${JSON.stringify(wrong)}`
    );
  }
  const ids = entries.map((entry) => scheduleLogicalId(entry.job));
  const clash = entries.filter((entry, index) => ids.indexOf(ids[index]) !== index);
  if (clash.length) {
    throw refusal(
      `The jobs ${clash.map((entry) => entry.job).join(', ')} differ from others in punctuation alone; rename one`
    );
  }
  return entries;
}

// The stack's schedule group (deleting it deletes its schedules) and one schedule per job of infra/schedules.json,
// each sending the message the worker expects to the job queue; EventBridge Scheduler fills in the <aws.scheduler.*>
// attributes at each run, so one run keeps its job id across Scheduler's retries and the worker's.
async function scheduleResources(resolveConfigurationProperty) {
  const entries = readSchedules();
  const names = entries.map((entry) => `${entry.job} (${entry.expression}, ${entry.timezone})`);
  report(`Schedules: ${names.length ? names.join('; ') : 'none (no job declares a schedule)'}`);
  if (!entries.length) return {};
  const roles = await givenJobRoleArns(resolveConfigurationProperty);
  const resources = {
    ScheduleGroup: {
      Type: 'AWS::Scheduler::ScheduleGroup',
      Properties: { Name: await resolveConfigurationProperty(['custom', 'scheduleGroup']) },
    },
  };
  for (const entry of entries) {
    const scheduledTime = '<aws.scheduler.scheduled-time>';
    const message = {
      id: `schedule:${entry.job}:${scheduledTime}`,
      job: entry.job,
      payload: {},
      requestId: '<aws.scheduler.execution-id>',
      enqueuedAt: scheduledTime,
    };
    resources[scheduleLogicalId(entry.job)] = {
      Type: 'AWS::Scheduler::Schedule',
      Properties: {
        Name: entry.job,
        GroupName: { Ref: 'ScheduleGroup' },
        Description: `Job ${entry.job} into the job queue`,
        ScheduleExpression: entry.expression,
        ScheduleExpressionTimezone: entry.timezone,
        FlexibleTimeWindow: { Mode: 'OFF' },
        State: 'ENABLED',
        Target: {
          Arn: { 'Fn::GetAtt': ['JobQueue', 'Arn'] },
          RoleArn: roles ? roles.scheduler : { 'Fn::GetAtt': ['SchedulerRole', 'Arn'] },
          Input: JSON.stringify(message),
          // A delivery the queue refuses is tried again for up to an hour, then lands in the dead-letter queue.
          RetryPolicy: { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 10 },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': ['JobDeadLetterQueue', 'Arn'] } },
        },
      },
    };
  }
  return resources;
}
{%- endif %}

// functions.migrate.role: ci-access.yml's migration role by ARN, or MigrationRole (roleResources).
module.exports.migrationRole = async ({ resolveConfigurationProperty }) => {
  const arns = await givenRoleArns(resolveConfigurationProperty);
  return arns ? arns.migration : 'MigrationRole';
};

// MigrationRole (custom.createdRoles) when this stack creates the roles, nothing otherwise.
async function roleResources(resolveConfigurationProperty) {
  if (await givenRoleArns(resolveConfigurationProperty)) return {};
  return resolveConfigurationProperty(['custom', 'createdRoles']);
}

// The alarm topic's e-mail subscription when ALARM_EMAIL is given; `make package` says whether alarms reach anyone.
async function alarmSubscription(resolveConfigurationProperty) {
  const email = given((await deployInputs(resolveConfigurationProperty)).alarmEmail);
  if (!email) {
    report(
      'Alarms: ALARM_EMAIL is empty, so the alarms reach nobody (they still show in CloudWatch and on the ' +
        "stage's dashboard); set it to the address of whoever is on call"
    );
    return {};
  }
  if (!EMAIL.test(email)) {
    throw refusal(`ALARM_EMAIL must be one e-mail address; got ${JSON.stringify(email)}`);
  }
  report(`Alarms: sent to ${email} when they fire and when they clear (SNS first asks that address to confirm)`);
  return {
    AlarmEmailSubscription: {
      Type: 'AWS::SNS::Subscription',
      Properties: { TopicArn: { Ref: 'AlarmTopic' }, Protocol: 'email', Endpoint: email },
    },
  };
}

{% if cookiecutter.background_jobs == "yes" -%}
// resources.Resources: the roles this stack creates, if any, the operations resources, the jobs' queues and
// schedules, and the alarm subscription.
{% else -%}
// resources.Resources: the roles this stack creates, if any, the operations resources and the alarm subscription.
{% endif -%}
module.exports.stackResources = async ({ resolveConfigurationProperty }) => ({
  ...(await roleResources(resolveConfigurationProperty)),
  ...(await resolveConfigurationProperty(['custom', 'operations'])),
{%- if cookiecutter.background_jobs == "yes" %}
  ...(await resolveConfigurationProperty(['custom', 'jobs'])),
  ...(await scheduleResources(resolveConfigurationProperty)),
{%- endif %}
  ...(await alarmSubscription(resolveConfigurationProperty)),
});

{%- if cookiecutter.database == "aurora" %}

// The cluster's master secret, which RDS encrypts with the database stack's key: read it, and decrypt with that key
// only on behalf of Secrets Manager, for this secret.
async function migrationSecretStatements(resolveConfigurationProperty) {
  const secretArn = await databaseExport(resolveConfigurationProperty, 'MasterSecretArn');
  return [
    { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: secretArn },
    {
      Effect: 'Allow',
      Action: 'kms:Decrypt',
      Resource: await databaseExport(resolveConfigurationProperty, 'DatabaseKeyArn'),
      Condition: {
        StringEquals: {
          'kms:ViaService': { 'Fn::Sub': 'secretsmanager.${AWS::Region}.${AWS::URLSuffix}' },
          'kms:EncryptionContext:SecretARN': secretArn,
        },
      },
    },
  ];
}
{%- elif cookiecutter.db_credentials == "iam" %}

// The migration function's DB_SECRET_ARN: the one secret on the stage, for a user that may change the schema (the
// cluster's master secret, or a migration user's). The API's user has no password to fall back on.
module.exports.migrationSecretArn = async ({ resolveConfigurationProperty }) => {
  const own = given((await deployInputs(resolveConfigurationProperty)).migrationSecretArn);
  if (own) return checkedSecretArn('DB_MIGRATION_SECRET_ARN', own).arn;
  throw refusal(
    "DB_MIGRATION_SECRET_ARN is empty: set it to the complete ARN of the migration function's secret (the " +
      "cluster's master secret, or a migration user's RDS secret): the API's user logs in with IAM tokens and " +
      'has no password'
  );
};
{%- else %}

// The migration function's DB_SECRET_ARN: its own secret (a user that may change the schema) when given.
module.exports.migrationSecretArn = async ({ resolveConfigurationProperty }) => {
  const own = given((await deployInputs(resolveConfigurationProperty)).migrationSecretArn);
  if (own) return checkedSecretArn('DB_MIGRATION_SECRET_ARN', own).arn;
  report(
    'Warning: DB_MIGRATION_SECRET_ARN is empty, so the migration function logs in with the API\'s secret ' +
      '(DB_SECRET_ARN): the API\'s database user then needs the rights to change the schema (CREATE, ALTER, DROP, ' +
      'INDEX), and so does every request it serves. Give the migration its own secret (README: Least privilege in ' +
      'the database).'
  );
  return given(await resolveConfigurationProperty(['provider', 'environment', 'DB_SECRET_ARN']));
};
{%- endif %}

// MigrationRole's statements: its own log group, its traces, and the secret its function's environment names.
module.exports.migrationStatements = async ({ resolveConfigurationProperty }) => {
  const statements = [
    {
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: { 'Fn::GetAtt': ['MigrateLogGroup', 'Arn'] },
    },
    // Its traces (provider.tracing); X-Ray's actions name no resource.
    { Effect: 'Allow', Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], Resource: '*' },
  ];
{%- if cookiecutter.database == "aurora" %}
  return statements.concat(await migrationSecretStatements(resolveConfigurationProperty));
{%- else %}
  const environment = (await resolveConfigurationProperty(['functions', 'migrate', 'environment'])) || {};
  const secretArn = given(environment.DB_SECRET_ARN);
  if (!secretArn) return statements;
  return statements.concat(secretStatements('DB_SECRET_ARN', secretArn, await kmsKeyArn(resolveConfigurationProperty)));
{%- endif %}
};

// MigrationRole's managed policies: the network interfaces of a function in a VPC (the framework adds the same policy
// to the API function's role).
module.exports.migrationManagedPolicies = async ({ resolveConfigurationProperty }) => {
  if (!(await resolveConfigurationProperty(['provider', 'vpc']))) return { Ref: 'AWS::NoValue' };
  return [{ 'Fn::Sub': 'arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole' }];
};

// DB_SSL_CA: the CA bundle's path inside the package. Empty when the server is trusted unverified on purpose
// (DB_SSL_TRUST_ANY_SERVER) and the bundle is not there, so the function never names a file it lacks. `make package`
// refuses a missing bundle otherwise (check-ca).
module.exports.sslCa = async ({ resolveConfigurationProperty }) => {
  const inputs = await deployInputs(resolveConfigurationProperty);
  const bundle = given(inputs.sslCa) || given(inputs.sslCaDefault);
  const present = path.isAbsolute(bundle) || fs.existsSync(path.join(__dirname, bundle));
  return present || !TRUE_VALUES.has(given(inputs.trustAnyServer).toLowerCase()) ? bundle : '';
};
{%- if cookiecutter.api_auth == "jwt" %}

// The issuer's https URL as its tokens' iss claim has it: API Gateway fetches the signing keys from
// <issuer>/.well-known/openid-configuration over https and compares iss with this text, so it is passed on unchanged.
function isIssuerUrl(value) {
  let url;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return url.protocol === 'https:' && Boolean(url.hostname) && !url.username && !url.password && !/[?#\s]/.test(value);
}

// provider.httpApi.authorizers.jwtAuthorizer: API Gateway verifies every bearer token against the issuer and audiences
// the deploying shell names before the function runs. Neither has a default: a guessed issuer would trust someone
// else's tokens, and a missing one would leave the gateway unable to verify any.
module.exports.jwtAuthorizer = async ({ resolveConfigurationProperty }) => {
  const inputs = await deployInputs(resolveConfigurationProperty);
  const issuerUrl = given(inputs.jwtIssuerUrl);
  if (!issuerUrl) {
    throw refusal(
      'JWT_ISSUER_URL is empty: set it to the https URL of the OIDC issuer whose tokens the API accepts, exactly as ' +
        "the tokens' iss claim has it (Cognito: https://cognito-idp.REGION.amazonaws.com/USER_POOL_ID, the IssuerUrl " +
        'output of infra/cognito.yml)'
    );
  }
  if (!isIssuerUrl(issuerUrl)) {
    throw refusal(
      "JWT_ISSUER_URL must be the issuer's https URL (https://HOST[/PATH], no query, fragment or spaces: API Gateway " +
        `fetches the issuer's keys over https); got ${JSON.stringify(issuerUrl)}`
    );
  }
  const audience = commaList(inputs.jwtAudience);
  if (!audience.length) {
    throw refusal(
      'JWT_AUDIENCE is empty: set it to the audiences a token must name (its aud claim, or client_id in a Cognito ' +
        'access token: the app client ids, the MachineClientId and WebClientId outputs of infra/cognito.yml), ' +
        'comma-separated'
    );
  }
  const spaced = audience.filter((item) => /\s/.test(item));
  if (spaced.length) {
    throw refusal(
      'JWT_AUDIENCE must list audiences separated by commas, none with a space inside; got ' +
        JSON.stringify(spaced.join(','))
    );
  }
  report(
    'Authentication: every route but GET /health, GET /health/ready and CORS preflight needs a JWT issued by ' +
      `${issuerUrl} for audience ${audience.join(', ')}`
  );
  return { type: 'jwt', identitySource: '$request.header.Authorization', issuerUrl, audience };
};
{%- endif %}

// provider.httpApi.cors: custom.cors for the origins of CORS_ALLOWED_ORIGINS, or null (no CORS: same-origin only)
// when it is empty.
module.exports.httpApiCors = async ({ resolveConfigurationProperty }) => {
  const value = given((await deployInputs(resolveConfigurationProperty)).corsAllowedOrigins);
  const origins = commaList(value);
  if (!origins.length) {
    report('CORS: none (CORS_ALLOWED_ORIGINS is empty): browsers may call the API only from pages of its own origin');
    return null;
  }
  if (origins.includes('*')) {
    throw refusal(
      'CORS_ALLOWED_ORIGINS may not contain "*" (every web site): list the origins of your front ends, ' +
        `comma-separated, like https://app.example.com; got ${JSON.stringify(value)}`
    );
  }
  const wrong = origins.filter((origin) => !ORIGIN.test(origin));
  if (wrong.length) {
    throw refusal(
      'CORS_ALLOWED_ORIGINS must list origins, comma-separated, each scheme://host[:port] in lowercase like ' +
        `https://app.example.com (no path, no trailing slash); got ${JSON.stringify(wrong.join(','))}`
    );
  }
  report(`CORS: browsers may call the API from pages of ${origins.join(', ')}`);
  return { ...(await resolveConfigurationProperty(['custom', 'cors'])), allowedOrigins: origins };
};

async function apiLimit(name, { resolveConfigurationProperty, resolveVariable }) {
  const { variable, wholeNumber } = LIMITS[name];
  const value = given((await deployInputs(resolveConfigurationProperty))[name]);
  if (!value) {
    // Stages without their own defaults take dev's, as they take its ENVIRONMENT.
    const defaults = await resolveConfigurationProperty(['custom', 'stageDefaults']);
    const stage = await resolveVariable('sls:stage');
    return (defaults[stage] || defaults.dev)[name];
  }
  const number = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || number < 1 || (wholeNumber && !Number.isInteger(number))) {
    const kind = wholeNumber ? 'a whole number' : 'a number';
    throw refusal(`${variable} must be ${kind} of at least 1; got ${JSON.stringify(value)}`);
  }
  return number;
}

module.exports.apiReservedConcurrency = (context) => apiLimit('reservedConcurrency', context);
module.exports.apiThrottleRate = (context) => apiLimit('throttleRate', context);
module.exports.apiThrottleBurst = (context) => apiLimit('throttleBurst', context);
module.exports.alarmApiErrors = (context) => apiLimit('alarmApiErrors', context);
module.exports.alarmApiThrottles = (context) => apiLimit('alarmApiThrottles', context);
module.exports.alarmApiDurationP99 = (context) => apiLimit('alarmApiDurationP99', context);
module.exports.alarmHttpApi5xx = (context) => apiLimit('alarmHttpApi5xx', context);
module.exports.alarmDatabaseUnavailable = (context) => apiLimit('alarmDatabaseUnavailable', context);
