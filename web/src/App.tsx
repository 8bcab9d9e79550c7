import { AppShell, Burger, Button, Group, NavLink, ScrollArea, Text, Title } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { Suspense, lazy, type ComponentType } from 'react';
import { Navigate, Route, Routes, useLocation, useNavigate } from 'react-router-dom';
import { AuthProvider, useAuth } from './auth';
import { Loading } from './components/states';
import { LoginPage } from './pages/Login';

// Each area is its own chunk, loaded on first visit (the login page and the shell are in the
// entry chunk; React, Mantine and the chart library are shared vendor chunks).
const page = <K extends string>(load: () => Promise<Record<K, ComponentType>>, name: K) =>
  lazy(() => load().then((m) => ({ default: m[name] })));
const DashboardPage = page(() => import('./pages/Dashboard'), 'DashboardPage');
const DataPage = page(() => import('./pages/Data'), 'DataPage');
const DatasetPage = page(() => import('./pages/Data'), 'DatasetPage');
const ModelsPage = page(() => import('./pages/Models'), 'ModelsPage');
const ModelPage = page(() => import('./pages/Models'), 'ModelPage');
const TrainPage = page(() => import('./pages/Train'), 'TrainPage');
const JobPage = page(() => import('./pages/Job'), 'JobPage');
const InferencePage = page(() => import('./pages/Inference'), 'InferencePage');
const EndpointPage = page(() => import('./pages/Inference'), 'EndpointPage');
const CostPage = page(() => import('./pages/Cost'), 'CostPage');

const NAV = [
  { to: '/', label: 'Dashboard' },
  { to: '/data', label: 'Data' },
  { to: '/models', label: 'Models' },
  { to: '/train', label: 'Train' },
  { to: '/inference', label: 'Inference' },
  { to: '/cost', label: 'Cost' },
];

function Shell() {
  const { user, checking, signOut } = useAuth();
  const [opened, { toggle, close }] = useDisclosure();
  const location = useLocation();
  const navigate = useNavigate();
  if (checking) return <Loading label="Signing in…" />;
  if (!user) {
    const next = location.pathname + location.search;
    return <Navigate to={'/login' + (next === '/' ? '' : '?next=' + encodeURIComponent(next))} replace />;
  }
  const active = (to: string) =>
    to === '/' ? location.pathname === '/' : location.pathname.startsWith(to) || (to === '/train' && location.pathname.startsWith('/jobs'));
  return (
    <AppShell header={{ height: 52 }} navbar={{ width: 200, breakpoint: 'sm', collapsed: { mobile: !opened } }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="xs" wrap="nowrap">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Menu" />
            <Title order={4}>sskai</Title>
          </Group>
          <Group gap="xs" wrap="nowrap">
            <Text size="sm" c="dimmed" visibleFrom="xs" data-testid="user-name">
              {user.name}
            </Text>
            <Button size="xs" variant="default" onClick={signOut}>
              Sign out
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs">
        <ScrollArea>
          {NAV.map((n) => (
            <NavLink
              key={n.to}
              label={n.label}
              active={active(n.to)}
              href={n.to}
              onClick={(e) => {
                e.preventDefault();
                navigate(n.to);
                close();
              }}
            />
          ))}
        </ScrollArea>
      </AppShell.Navbar>
      <AppShell.Main style={{ minWidth: 0 }}>
        <Suspense fallback={<Loading />}>
        <Routes>
          <Route path="/" element={<DashboardPage />} />
          <Route path="/data" element={<DataPage />} />
          <Route path="/data/:name" element={<DatasetPage />} />
          <Route path="/models" element={<ModelsPage />} />
          <Route path="/models/:name" element={<ModelPage />} />
          <Route path="/train" element={<TrainPage />} />
          <Route path="/jobs/:id" element={<JobPage />} />
          <Route path="/inference" element={<InferencePage />} />
          <Route path="/inference/:name" element={<EndpointPage />} />
          <Route path="/cost" element={<CostPage />} />
          <Route path="*" element={<Text>Page not found.</Text>} />
        </Routes>
        </Suspense>
      </AppShell.Main>
    </AppShell>
  );
}

export function App() {
  return (
    <AuthProvider>
      <Routes>
        <Route path="/login" element={<LoginPage />} />
        <Route path="/*" element={<Shell />} />
      </Routes>
    </AuthProvider>
  );
}
