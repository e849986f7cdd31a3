import { render } from 'preact';
import { App } from './App';
import { CustomerDisplay } from './components/CustomerDisplay';
import './fonts.css';
import './style.css';

// The shell opens the customer display as `index.html?view=customer`.
const customer = new URLSearchParams(location.search).get('view') === 'customer';
render(customer ? <CustomerDisplay /> : <App />, document.getElementById('app')!);
