/** Goes into every cache key and build manifest: bump it when a change here changes what a build produces. */
export const BUILDER_VERSION = 'zectre-builder/1';
