/**
 * The layers of src/, and the typed client (client/) and its examples kept apart from it, checked
 * by `npm run layers` (part of `npm run check`). Type-only imports count: a type is a dependency
 * on another folder's shape all the same. Test files and the test kit (src/testing) are not
 * followed: tests may use anything, and the kit wires whole apps.
 *
 *   core, config.ts ← db ← http ← modules ← jobs, app.ts ← cli        client ← examples (and web/)
 */
/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'core-is-self-contained',
      comment:
        'src/core is the vocabulary (money, time, errors, ids, the caller) every layer uses, and src/config.ts reads the environment; they use nothing of ours but core, so they never pull a layer in.',
      severity: 'error',
      from: { path: '^src/(core/|config\\.ts$)' },
      to: { path: '^src/', pathNot: '^src/core/' },
    },
    {
      name: 'db-uses-only-core',
      comment:
        'src/db (connection, migrations, schema types) sits under every module: it may use src/core and the settings of src/config.ts, never a module or the HTTP layer.',
      severity: 'error',
      from: { path: '^src/db/' },
      to: { path: '^src/', pathNot: '^src/(db/|core/|config\\.ts$)' },
    },
    {
      name: 'http-knows-no-module',
      comment:
        'src/http builds a server with no routes and offers what routes need (Api, RouteDependencies, the access rule); the modules plug into it through src/app.ts, so it imports none of them, nor the jobs, the CLI or the wiring.',
      severity: 'error',
      from: { path: '^src/http/' },
      to: { path: '^src/(modules|jobs|cli)/|^src/app\\.ts$' },
    },
    {
      name: 'modules-are-not-run-by-themselves',
      comment:
        'Modules are called by the HTTP wiring (src/app.ts), the scheduler (src/jobs) and the CLI (src/cli); a module importing one of those would tie the domain to how it is run.',
      severity: 'error',
      from: { path: '^src/modules/' },
      to: { path: '^src/(jobs|cli)/|^src/app\\.ts$' },
    },
    {
      name: 'jobs-are-not-run-by-the-cli',
      comment: 'The scheduler is started by the CLI and calls modules; it neither imports the CLI nor the HTTP wiring.',
      severity: 'error',
      from: { path: '^src/jobs/' },
      to: { path: '^src/cli/|^src/app\\.ts$' },
    },
    {
      name: 'no-test-kit-in-production',
      comment: 'src/testing builds apps on throwaway databases for the tests; the service must never load it.',
      severity: 'error',
      from: { pathNot: '\\.test\\.ts$|^src/testing/' },
      to: { path: '^src/testing/' },
    },
    {
      name: 'client-stands-alone',
      comment:
        'client/ is what outside users import (and the web app will): it stands on its generated types (client/schema.d.ts, regenerated from the served document) and openapi-fetch, never on the service code, which it would drag into their bundles. Its tests are exempt: they start a test server through the kit.',
      severity: 'error',
      from: { path: '^client/', pathNot: '\\.test\\.ts$' },
      to: { path: '^(src|scripts|examples|bench|bin)/' },
    },
    {
      name: 'service-knows-no-client',
      comment:
        'The service never uses its own client: the client follows the document the service serves, not the other way round, so src/ imports nothing from client/ (its tests are not followed, as for every rule).',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^client/' },
    },
    {
      name: 'examples-use-only-the-client',
      comment: 'examples/ show what an outside user writes: the client and nothing of the service.',
      severity: 'error',
      from: { path: '^examples/' },
      to: { path: '^(src|scripts|bench|bin)/' },
    },
    {
      name: 'no-folder-cycles',
      comment:
        'Folders (each module, and each top folder of src) depend one way: when two modules need each other, one tells the other through a hook the wiring connects (see src/app.ts), or the code moves to the module that owns it.',
      severity: 'error',
      scope: 'folder',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-circular',
      comment:
        'No file imports itself through others: such a cycle breaks the order modules load in and hides which one owns what.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: ['node_modules', '\\.test\\.ts$', '^src/testing/'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'node', 'default'] },
  },
};
