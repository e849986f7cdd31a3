export function App() {
  return <div>Sentra POS</div>;
}
