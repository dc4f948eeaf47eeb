import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Container from "@cloudscape-design/components/container";
import Form from "@cloudscape-design/components/form";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import Input from "@cloudscape-design/components/input";
import SpaceBetween from "@cloudscape-design/components/space-between";
import { useState } from "react";
import { signInMessage, signInWithPassword, startManagedLogin } from "../auth";
import type { AppConfig } from "../config";

export function SignInPage({ config, error }: { config: AppConfig; error?: string }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [problem, setProblem] = useState<string | null>(error ?? null);
  const [busy, setBusy] = useState(false);
  // Why the last session ended (a renewal refused), until the next sign-in.
  const [ended] = useState(signInMessage);
  const returnTo = window.location.pathname + window.location.search;
  const notice = ended && (
    <Alert type="warning" header="Signed out">
      {ended}
    </Alert>
  );
  return (
    <main style={{ maxWidth: 440, margin: "10vh auto", padding: 16 }}>
      <Container header={<Header variant="h1">DRS Orchestrator</Header>}>
        {config.local ? (
          <form
            onSubmit={(e) => {
              e.preventDefault();
              setBusy(true);
              signInWithPassword(username, password)
                .then(() => window.location.assign(returnTo))
                .catch((err: unknown) => setProblem(String(err instanceof Error ? err.message : err)))
                .finally(() => setBusy(false));
            }}
          >
            <Form
              actions={
                <Button variant="primary" formAction="submit" loading={busy}>
                  Sign in
                </Button>
              }
            >
              <SpaceBetween size="m">
                {notice}
                {problem && <Alert type="error">{problem}</Alert>}
                <FormField label="User name">
                  <Input value={username} onChange={(e) => setUsername(e.detail.value)} autoComplete="username" name="username" />
                </FormField>
                <FormField label="Password">
                  <Input value={password} onChange={(e) => setPassword(e.detail.value)} type="password" autoComplete="current-password" name="password" />
                </FormField>
                <Box variant="small">Local mode: demo users admin, planauthor, operator, approver and viewer.</Box>
              </SpaceBetween>
            </Form>
          </form>
        ) : (
          <SpaceBetween size="m">
            {notice}
            {problem && <Alert type="error">{problem}</Alert>}
            <Button variant="primary" onClick={() => void startManagedLogin(config, returnTo)}>
              Sign in
            </Button>
          </SpaceBetween>
        )}
      </Container>
    </main>
  );
}
