// The signed-in user: token in sessionStorage (this browser tab's session), validated by GET /v1/me.
import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import { useLocation, useNavigate } from 'react-router-dom';
import { getToken, onUnauthorized, request, setToken } from './api/client';
import type { User } from './api/types';

interface Auth {
  user: User | null;
  checking: boolean;
  signIn: (token: string) => Promise<void>;
  signOut: () => void;
}

const AuthContext = createContext<Auth | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null>(null);
  const [checking, setChecking] = useState(getToken() !== null);
  const navigate = useNavigate();
  const location = useLocation();

  useEffect(() => {
    const token = getToken();
    if (!token) return;
    request<User>('/v1/me')
      .then(setUser)
      .catch(() => setUser(null))
      .finally(() => setChecking(false));
  }, []);

  useEffect(
    () =>
      onUnauthorized(() => {
        setUser(null);
        // Several polls may fail at once: only the first one moves to the login page (a later
        // one would drop ?next= and the "session ended" note).
        const from = window.location.pathname + window.location.search;
        if (from.startsWith('/login')) return;
        navigate('/login?next=' + encodeURIComponent(from) + '&expired=1', { replace: true });
      }),
    [navigate],
  );
  void location;

  const signIn = async (token: string) => {
    const me = await request<User>('/v1/me', { token });
    setToken(token);
    setUser(me);
  };
  const signOut = () => {
    setToken(null);
    setUser(null);
    navigate('/login', { replace: true });
  };
  return <AuthContext.Provider value={{ user, checking, signIn, signOut }}>{children}</AuthContext.Provider>;
}

export function useAuth(): Auth {
  const ctx = useContext(AuthContext);
  if (!ctx) throw new Error('useAuth outside AuthProvider');
  return ctx;
}
