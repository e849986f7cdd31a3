import { render } from 'preact';
import { App } from './App';
import './fonts.css';
import './style.css';

render(<App />, document.getElementById('app')!);
