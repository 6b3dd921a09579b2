// Readers for the JSON `tilt alpha tiltfile-result` prints (tilt v0.33: the Tiltfile loader's
// TiltfileLoadResult, Go field names outside the v1alpha1 API specs, camelCase inside them).
import { parseObjects, type KubeObject } from '../../support/kube-apiserver.js';

interface ImageTargetJson {
  selector: string;
  BuildDetails: { target?: string; contextIgnores?: { patterns?: string[] }[] };
  LiveUpdateSpec: {
    syncs?: { localPath: string; containerPath: string }[];
    execs?: { args: string[]; triggerPaths?: string[] }[];
    stopPaths?: string[];
  };
}

interface ManifestJson {
  Name: string;
  ResourceDependencies: string[] | null;
  TriggerMode: number;
  Labels: Record<string, string> | null;
  ImageTargets: ImageTargetJson[] | null;
  DeployTarget: {
    yaml?: string;
    portForwardTemplateSpec?: {
      forwards: { localPort: number; containerPort: number; name?: string; path?: string }[];
    };
    Links?: { URL: { Scheme: string; Host: string; Path: string }; Name: string }[] | null;
    UpdateCmdSpec?: { args: string[] };
  };
}

export interface TiltfileResult {
  Manifests: ManifestJson[];
  ConfigFiles: string[];
}

/** tilt's TriggerModeManual: never builds by itself, not even on `tilt up`. */
const TRIGGER_MODE_MANUAL = 2;

function manifest(result: TiltfileResult, name: string): ManifestJson {
  const found = result.Manifests.find((m) => m.Name === name);
  if (!found) throw new Error(`no Tilt resource named ${name}: ${manifestNames(result).join(', ')}`);
  return found;
}

export const manifestNames = (result: TiltfileResult): string[] => result.Manifests.map((m) => m.Name);

export const resourceDeps = (result: TiltfileResult, name: string): string[] =>
  manifest(result, name).ResourceDependencies ?? [];

export const labels = (result: TiltfileResult, name: string): string[] =>
  Object.keys(manifest(result, name).Labels ?? {});

/** Every image Tilt builds: its ref, Dockerfile target and the `only` paths of its context. */
export function imageTargets(result: TiltfileResult): { ref: string; target: string; only: string[] }[] {
  return result.Manifests.flatMap((m) => m.ImageTargets ?? []).map((i) => ({
    ref: i.selector,
    target: i.BuildDetails.target ?? '',
    // `only=[...]` becomes an ignore list "everything but these".
    only: (i.BuildDetails.contextIgnores ?? [])
      .map((c) => c.patterns ?? [])
      .filter((p) => p[0] === '**')
      .flatMap((p) => p.slice(1).map((x) => x.replace(/^!/, ''))),
  }));
}

export function liveUpdate(result: TiltfileResult, ref: string) {
  const image = result.Manifests.flatMap((m) => m.ImageTargets ?? []).find((i) => i.selector === ref);
  if (!image) throw new Error(`Tilt builds no image ${ref}`);
  const spec = image.LiveUpdateSpec;
  return {
    syncs: (spec.syncs ?? []).map((s) => ({ local: s.localPath, container: s.containerPath })),
    runs: (spec.execs ?? []).map((e) => ({ command: e.args, triggers: e.triggerPaths ?? [] })),
    fallBackOn: spec.stopPaths ?? [],
  };
}

/** The Kubernetes objects Tilt applies, for one resource or all of them. */
export function k8sObjects(result: TiltfileResult, name?: string): KubeObject[] {
  const manifests = name ? [manifest(result, name)] : result.Manifests;
  return manifests.flatMap((m) => parseObjects(m.DeployTarget.yaml ?? ''));
}

export function portForwards(result: TiltfileResult, name: string) {
  return (manifest(result, name).DeployTarget.portForwardTemplateSpec?.forwards ?? []).map((f) => ({
    local: f.localPort,
    container: f.containerPort,
    name: f.name ?? '',
    path: f.path ? `/${f.path.replace(/^\//, '')}` : '',
  }));
}

export const links = (result: TiltfileResult, name: string): string[] =>
  (manifest(result, name).DeployTarget.Links ?? []).map((l) => `${l.URL.Scheme}://${l.URL.Host}${l.URL.Path}`);

/** local_resource buttons: their command and whether they only run when clicked. */
export function localResources(result: TiltfileResult): Record<string, { command: string[]; manual: boolean }> {
  return Object.fromEntries(
    result.Manifests.filter((m) => m.DeployTarget.UpdateCmdSpec).map((m) => [
      m.Name,
      { command: m.DeployTarget.UpdateCmdSpec!.args, manual: m.TriggerMode === TRIGGER_MODE_MANUAL },
    ]),
  );
}
