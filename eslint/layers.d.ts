// Types for eslint/layers.js, which test/unit/architecture/import-graph.test.ts also reads.
export declare const LAYERS: readonly string[];
export declare const OUTSIDE_SHARED: readonly string[];
export declare function layerRules(root: string): unknown[];
