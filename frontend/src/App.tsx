import AppLayout from "@cloudscape-design/components/app-layout";
import SideNavigation from "@cloudscape-design/components/side-navigation";
import Spinner from "@cloudscape-design/components/spinner";
import TopNavigation from "@cloudscape-design/components/top-navigation";
import { useQuery } from "@tanstack/react-query";
import { createContext, useContext, useEffect, useState } from "react";
import { Navigate, Route, Routes, useLocation, useNavigate } from "react-router-dom";
import { get } from "./api";
import { completeSignIn, currentSession, signOut } from "./auth";
import { type AppConfig, loadConfig } from "./config";
import type { Me } from "./lib/types";
import { ApprovalPage, ApprovalsPage } from "./pages/Approvals";
import { ExecutionPage } from "./pages/Execution";
import { GroupsPage } from "./pages/Groups";
import { HistoryPage } from "./pages/History";
import { OutboxPage } from "./pages/Outbox";
import { PlanPage } from "./pages/PlanDetail";
import { PlansPage } from "./pages/Plans";
import { ReportPage } from "./pages/Report";
import { SignInPage } from "./pages/SignIn";
import { SourceServersPage } from "./pages/SourceServers";
import { can, type Can } from "./roles";

interface Context {
  config: AppConfig;
  me: Me;
  can: Can;
}

const AppContext = createContext<Context | null>(null);

export function useApp(): Context {
  const ctx = useContext(AppContext);
  if (!ctx) throw new Error("useApp outside the signed-in app");
  return ctx;
}

export function App() {
  const [config, setConfig] = useState<AppConfig | null>(null);
  const [error, setError] = useState<string | null>(null);
  const navigate = useNavigate();
  useEffect(() => {
    loadConfig()
      .then(async (c) => {
        const returnTo = await completeSignIn(c);
        setConfig(c);
        if (returnTo) navigate(returnTo, { replace: true });
      })
      .catch((e: unknown) => setError(String(e)));
  }, [navigate]);
  if (error) return <main style={{ padding: 24 }}>The app could not start: {error}</main>;
  if (!config) return <Spinner size="large" />;
  if (!currentSession()) return <SignInPage config={config} />;
  return <SignedIn config={config} />;
}

function SignedIn({ config }: { config: AppConfig }) {
  const me = useQuery({ queryKey: ["me"], queryFn: () => get<Me>("/me") });
  const location = useLocation();
  const navigate = useNavigate();
  if (me.isPending) return <Spinner size="large" />;
  if (me.isError || !me.data) return <SignInPage config={config} error={String(me.error)} />;
  const ctx: Context = { config, me: me.data, can: can(me.data.roles) };
  const items = [
    { type: "link" as const, text: "Source servers", href: "/source-servers" },
    { type: "link" as const, text: "Protection groups", href: "/protection-groups" },
    { type: "link" as const, text: "Recovery plans", href: "/plans" },
    { type: "link" as const, text: "History", href: "/executions" },
    { type: "link" as const, text: "Approvals", href: "/approvals" },
    ...(config.local ? [{ type: "link" as const, text: "Outbox (local)", href: "/outbox" }] : []),
  ];
  return (
    <AppContext.Provider value={ctx}>
      <div id="top-nav">
        <TopNavigation
          identity={{ href: "/", title: config.local ? "DRS Orchestrator · local" : "DRS Orchestrator" }}
          i18nStrings={{ overflowMenuTriggerText: "More", overflowMenuTitleText: "All" }}
          utilities={[
            {
              type: "menu-dropdown",
              text: me.data.user,
              description: me.data.roles.join(", "),
              iconName: "user-profile",
              items: [{ id: "signout", text: "Sign out" }],
              onItemClick: () => signOut(config),
            },
          ]}
        />
      </div>
      <AppLayout
        headerSelector="#top-nav"
        toolsHide
        ariaLabels={{
          navigation: "Navigation",
          navigationClose: "Close navigation",
          navigationToggle: "Open navigation",
          notifications: "Notifications",
        }}
        navigation={
          <SideNavigation
            header={{ text: "Recovery", href: "/" }}
            activeHref={"/" + (location.pathname.split("/")[1] ?? "")}
            items={items}
            onFollow={(e) => {
              e.preventDefault();
              navigate(e.detail.href);
            }}
          />
        }
        content={
          <Routes>
            <Route path="/" element={<Navigate to="/plans" replace />} />
            <Route path="/source-servers" element={<SourceServersPage />} />
            <Route path="/protection-groups" element={<GroupsPage />} />
            <Route path="/plans" element={<PlansPage />} />
            <Route path="/plans/:id" element={<PlanPage />} />
            <Route path="/executions" element={<HistoryPage />} />
            <Route path="/executions/:id" element={<ExecutionPage />} />
            <Route path="/executions/:id/report" element={<ReportPage />} />
            <Route path="/approvals" element={<ApprovalsPage />} />
            <Route path="/approvals/:id" element={<ApprovalPage />} />
            <Route path="/outbox" element={<OutboxPage />} />
            <Route path="*" element={<Navigate to="/plans" replace />} />
          </Routes>
        }
      />
    </AppContext.Provider>
  );
}
