import Dockerode from 'dockerode';

const IMAGE = 'codex-runner-sandbox:latest';

/** Integration tests need the real engine and image: say so loudly instead of skipping. */
export default async function setup(): Promise<void> {
  const docker = new Dockerode();
  try {
    await docker.ping();
  } catch (err) {
    throw new Error(`Docker is not reachable (${(err as Error).message}). Start it with: npm run setup`);
  }
  try {
    await docker.getImage(IMAGE).inspect();
  } catch {
    throw new Error(`The sandbox image ${IMAGE} is missing. Build it with: npm run sandbox:build`);
  }
}
